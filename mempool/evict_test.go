package mempool

import (
	"errors"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// TestReplacement checks the replacement rules: a bump of at least 10%
// takes the slot (the old hash is gone, the count unchanged), a smaller
// one is refused, and a replacement may not overdraw the sender's later
// txs; it adds txs and reads Get, Size and Reap.
func TestReplacement(t *testing.T) {
	chain := newTestChain(1000)
	m := newPool(t, testConfig(), chain.state)
	first, next := signedTx(0, 0, 10, 100), signedTx(0, 1, 500, 100)
	mustAdd(t, m, first, next)

	if err := m.Add(signedTx(0, 0, 11, 109)); !errors.Is(err, ErrReplacementUnderpriced) {
		t.Fatalf("9%% bump: %v, want ErrReplacementUnderpriced", err)
	}
	// 10+390 + 600 = 1000 is covered; 10+391 + 600 is not.
	if err := m.Add(signedTx(0, 0, 291, 110)); !errors.Is(err, ledger.ErrTxInsufficientFunds) {
		t.Fatalf("replacement overdrawing a later tx: %v, want ErrTxInsufficientFunds", err)
	}
	repl := signedTx(0, 0, 290, 110)
	mustAdd(t, m, repl)
	if _, ok := m.Get(first.Hash()); ok {
		t.Error("replaced tx still pending")
	}
	if got, ok := m.Get(repl.Hash()); !ok || got.Fee != 110 {
		t.Error("replacement not pending")
	}
	if n, _ := m.Size(); n != 2 {
		t.Errorf("Size = %d txs, want 2", n)
	}
	got := m.Reap(10, 1<<20)
	if len(got) != 2 || got[0].Hash() != repl.Hash() || got[1].Hash() != next.Hash() {
		t.Errorf("Reap after replacement: %v", hashes(got))
	}
	// Replacing the replacement needs 10% over 110.
	if err := m.Add(signedTx(0, 0, 5, 120)); !errors.Is(err, ErrReplacementUnderpriced) {
		t.Errorf("bump over the old fee but not the new one: %v", err)
	}
	mustAdd(t, m, signedTx(0, 0, 5, 121))
}

// fillPool builds a pool holding, for each sender i, nonces 0..perSender-1
// paying fees[i], with TxsMax exactly that many txs.
func fillPool(t *testing.T, fees []uint64, perSender int) (*Mempool, *testChainState) {
	t.Helper()
	balances := make([]uint64, len(fees)+4)
	for i := range balances {
		balances[i] = 1_000_000
	}
	chain := newTestChain(balances...)
	cfg := testConfig()
	cfg.TxsMax = len(fees) * perSender
	m := newPool(t, cfg, chain.state)
	for n := range perSender {
		for i, fee := range fees {
			mustAdd(t, m, signedTx(i, uint64(n), 1, fee))
		}
	}
	return m, chain
}

// noGaps reports the first sender whose pending nonces do not run
// consecutively from its account nonce, by reading Pending and the state.
func noGaps(t *testing.T, m *Mempool, state ledger.StateReader) {
	t.Helper()
	next := map[crypto.Address]uint64{}
	for _, tx := range m.Pending() {
		from := tx.Sender()
		want, ok := next[from]
		if !ok {
			acct, _ := state.GetAccount(from)
			want = acct.Nonce
		}
		if tx.Nonce != want {
			t.Fatalf("sender %s: nonce %d pending where %d was expected (gap)", from, tx.Nonce, want)
		}
		next[from] = want + 1
	}
}

// TestEvictionNeverLeavesGap checks that a full pool admits a better-paying
// tx by dropping the cheapest sender's highest nonce, repeatedly, and that
// every sender's nonces stay consecutive; it fills a pool and adds
// higher-fee txs from fresh senders.
func TestEvictionNeverLeavesGap(t *testing.T) {
	m, chain := fillPool(t, []uint64{5, 3, 8}, 4) // 12 txs, full
	for round := range 6 {
		newcomer := signedTx(3+round%2, uint64(round/2), 1, 4)
		// Sender 1 (fee 3) is the cheapest while it has txs: its nonces 3,
		// 2, 1, 0 go in that order, and nobody else's.
		if err := m.Add(newcomer); err != nil && round < 4 {
			t.Fatalf("round %d: %v", round, err)
		}
		noGaps(t, m, chain.state)
		if err := m.checkInvariants(); err != nil {
			t.Fatal(err)
		}
	}
	left := map[crypto.Address]int{}
	for _, tx := range m.Pending() {
		left[tx.Sender()]++
	}
	if left[testAddr(1)] != 0 || left[testAddr(0)] != 4 || left[testAddr(2)] != 4 {
		t.Fatalf("after 4 evictions: %d / %d / %d txs left for senders 0/1/2, want 4/0/4",
			left[testAddr(0)], left[testAddr(1)], left[testAddr(2)])
	}
	// Now the cheapest tails pay 4 (the newcomers): fee 4 is not enough.
	if err := m.Add(signedTx(5, 0, 1, 4)); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("equal fee: %v, want ErrMempoolFull", err)
	}
}

// TestEvictionSpareOwnSender checks that a sender cannot evict its own
// txs to make room (that would open a gap below its new nonce), with a
// pool full of one sender's cheap txs.
func TestEvictionSpareOwnSender(t *testing.T) {
	m, chain := fillPool(t, []uint64{1}, 4)
	if err := m.Add(signedTx(0, 4, 1, 100)); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("own eviction: %v, want ErrMempoolFull", err)
	}
	mustAdd(t, m, signedTx(1, 0, 1, 2))
	noGaps(t, m, chain.state)
	if got, err := m.PendingNonce(testAddr(0)); err != nil || got != 3 {
		t.Fatalf("sender 0 pending nonce %d, want 3 after losing its top nonce", got)
	}
}

// TestEvictionRollback checks that when a tx needs several victims (bytes)
// and only some are cheaper, the pool evicts none and stays as it was; it
// fills the pool's bytes with small txs of mixed fees.
func TestEvictionRollback(t *testing.T) {
	chain := newTestChain(1_000_000, 1_000_000, 1_000_000, 1_000_000)
	cfg := testConfig()
	cfg.BytesMax = ledger.TxBytesMax // three small txs (3*154 bytes) and 50 spare
	m := newPool(t, cfg, chain.state)
	mustAdd(t, m, signedTx(0, 0, 1, 1), signedTx(1, 0, 1, 50), signedTx(2, 0, 1, 60))
	m.ForRebroadcast(100, 10) // hand them all out: a rollback must not make them due again
	before := snapshotPending(m)
	big := signedTxTo(3, 0, sink, 1, 10, make([]byte, 200)) // needs two victims
	if err := m.Add(big); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("Add: %v, want ErrMempoolFull", err)
	}
	after := snapshotPending(m)
	if len(after) != len(before) {
		t.Fatalf("rollback lost txs: %d, had %d", len(after), len(before))
	}
	for h := range before {
		if after[h] == nil {
			t.Fatalf("rollback lost %s", h.Short())
		}
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	if got := m.ForRebroadcast(105, 10); len(got) != 0 {
		t.Errorf("%d restored txs became due early", len(got))
	}
	// The order is unchanged too: the restored tx keeps its arrival place.
	if got := m.Reap(10, 1<<20); len(got) != 3 || got[2].Fee != 1 {
		t.Errorf("Reap after rollback: fees %v", fees(got))
	}
	// Paying more than both cheap ones evicts the two cheapest.
	mustAdd(t, m, signedTxTo(3, 0, sink, 1, 55, make([]byte, 200)))
	if _, ok := m.Get(signedTx(2, 0, 1, 60).Hash()); !ok {
		t.Error("the dearest tx was evicted")
	}
}

func fees(txs []*ledger.Tx) []uint64 {
	out := make([]uint64, len(txs))
	for i, tx := range txs {
		out[i] = tx.Fee
	}
	return out
}

// TestEvictionQueuedTxsPayNothing checks that txs waiting behind a nonce
// gap cannot hold a full pool against executable txs: such a tx never
// runs, so its fee is never paid, and one sender with a few funded
// accounts could otherwise fill every pool with them at a fee no honest
// tx outbids, for free. It fills the pool with one sender's gapped txs at
// a high fee, then adds a cheap executable tx (it must get in, evicting
// the queued top nonce) and another gapped tx at an even higher fee (it
// must not evict the executable one).
func TestEvictionQueuedTxsPayNothing(t *testing.T) {
	chain := newTestChain(1_000_000, 1_000_000, 1_000_000)
	cfg := testConfig()
	cfg.TxsMax = 4
	m := newPool(t, cfg, chain.state)
	mustAdd(t, m, signedTx(0, 1, 1, 100), signedTx(0, 2, 1, 100), signedTx(0, 3, 1, 100), signedTx(0, 4, 1, 100))
	if m.Executable() {
		t.Fatal("a pool of gapped txs reports an executable one")
	}
	honest := signedTx(1, 0, 1, 1)
	if err := m.Add(honest); err != nil {
		t.Fatalf("executable tx into a pool full of gapped ones: %v", err)
	}
	if _, ok := m.Get(signedTx(0, 4, 1, 100).Hash()); ok {
		t.Error("the gapped sender's top nonce was not the one evicted")
	}
	if err := m.Add(signedTx(2, 1, 1, 1000)); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("gapped tx into a full pool: %v, want ErrMempoolFull", err)
	}
	if got := m.Reap(10, 1<<20); len(got) != 1 || got[0].Hash() != honest.Hash() {
		t.Fatalf("Reap = %d txs, want the executable one", len(got))
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}
