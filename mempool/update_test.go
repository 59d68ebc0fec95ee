package mempool

import (
	"errors"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// TestUpdate checks that Update drops committed txs, txs displaced by a
// different tx at the same nonce, and txs the new balance no longer
// covers, while keeping covered future nonces; it commits blocks built
// from a mix of pool and foreign txs.
func TestUpdate(t *testing.T) {
	chain := newTestChain(1000, 100, 1000)
	m := newPool(t, testConfig(), chain.state)
	a0, a1, a2, a5 := signedTx(0, 0, 10, 1), signedTx(0, 1, 10, 1), signedTx(0, 2, 10, 1), signedTx(0, 5, 10, 1)
	b0, b1 := signedTx(1, 0, 29, 1), signedTx(1, 1, 59, 1) // 30 + 60 <= 100
	c0 := signedTx(2, 0, 10, 1)
	mustAdd(t, m, a0, a1, a2, a5, b0, b1, c0)

	// Sender 1's nonce 0 is taken by another tx of 80 elsewhere: b0 is
	// displaced and b1 (60) is no longer covered by the 20 left.
	foreign := signedTxTo(1, 0, crypto.Address{0x77}, 79, 1, nil)
	committed := chain.commit(t, a0, a1, foreign)
	if len(committed) != 3 {
		t.Fatalf("fixture: %d txs committed, want 3", len(committed))
	}
	m.Update(committed, chain.state)
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []*ledger.Tx{a0, a1, b0, b1} {
		if _, ok := m.Get(gone.Hash()); ok {
			t.Errorf("nonce %d of %s still pending", gone.Nonce, gone.Sender())
		}
	}
	for _, kept := range []*ledger.Tx{a2, a5, c0} {
		if _, ok := m.Get(kept.Hash()); !ok {
			t.Errorf("nonce %d of %s dropped", kept.Nonce, kept.Sender())
		}
	}
	if got := m.Reap(10, 1<<20); len(got) != 2 {
		t.Errorf("Reap after Update: %d txs, want a2 and c0", len(got))
	}
	if n, _ := m.Size(); n != 3 {
		t.Errorf("Size = %d, want 3", n)
	}
}

// TestUpdateUnreadable checks that a sender whose account cannot be read
// after a block loses only the txs whose nonces the block used, and
// nobody else loses anything, with a state that fails every read.
func TestUpdateUnreadable(t *testing.T) {
	chain := newTestChain(1000, 1000)
	m := newPool(t, testConfig(), chain.state)
	mustAdd(t, m, signedTx(0, 0, 1, 1), signedTx(0, 1, 1, 1), signedTx(1, 0, 1, 1))
	m.Update([]*ledger.Tx{signedTx(0, 0, 1, 1), nil}, failingState{})
	if n, _ := m.Size(); n != 2 {
		t.Fatalf("Size = %d after an unreadable Update, want 2 (nonce 1 of sender 0, sender 1's)", n)
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// flakyState is a state whose reads of the accounts in failing fail.
type flakyState struct {
	ledger.StateReader
	failing map[crypto.Address]bool
}

func (f flakyState) GetAccount(a crypto.Address) (ledger.Account, error) {
	if f.failing[a] {
		return ledger.Account{}, errDisk
	}
	return f.StateReader.GetAccount(a)
}

// TestUpdateUnreadableKeepsPending checks that a transient failure to read
// one sender's account after a block loses none of its still-valid
// pending txs, never lets a used nonce be proposed, and leaves the other
// senders alone: the block commits two of sender 0's txs and a foreign tx
// that displaces a third, the read of sender 0 fails in that Update and
// succeeds in the next (an empty block), and Reap is checked after each.
func TestUpdateUnreadableKeepsPending(t *testing.T) {
	chain := newTestChain(1000, 1000)
	m := newPool(t, testConfig(), chain.state)
	a0, a1, a2, a3, a4 := signedTx(0, 0, 10, 1), signedTx(0, 1, 10, 1), signedTx(0, 2, 10, 1), signedTx(0, 3, 10, 1), signedTx(0, 4, 10, 1)
	b0, b1 := signedTx(1, 0, 10, 1), signedTx(1, 1, 10, 1)
	mustAdd(t, m, a0, a1, a2, a3, a4, b0, b1)
	used := []*ledger.Tx{a0, a1, a2}

	foreign := signedTxTo(0, 2, crypto.Address{0x77}, 500, 1, nil)
	committed := chain.commit(t, a0, a1, foreign, b0)
	if len(committed) != 4 {
		t.Fatalf("fixture: %d txs committed, want 4", len(committed))
	}
	me := testAddr(0)
	m.Update(committed, flakyState{chain.state, map[crypto.Address]bool{me: true}})
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	for _, kept := range []*ledger.Tx{a3, a4, b1} {
		if _, ok := m.Get(kept.Hash()); !ok {
			t.Fatalf("nonce %d of %s lost after an unreadable Update", kept.Nonce, kept.Sender())
		}
	}
	for _, gone := range used {
		if _, ok := m.Get(gone.Hash()); ok {
			t.Errorf("nonce %d of sender 0 still pending though the block used it", gone.Nonce)
		}
	}
	// While sender 0 is unread, only sender 1 is proposed.
	if got := m.Reap(10, 1<<20); len(got) != 1 || got[0].Hash() != b1.Hash() {
		t.Fatalf("Reap while sender 0 is unread: %d txs, want b1 only", len(got))
	}
	if _, err := m.PendingNonce(me); err == nil {
		t.Error("NextNonce of the unread sender answered from the account read before the block")
	}

	// The next Update reads sender 0 again, though its block has no tx of it.
	m.Update(nil, chain.state)
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	got := m.Reap(10, 1<<20)
	want := map[crypto.Hash]bool{a3.Hash(): true, a4.Hash(): true, b1.Hash(): true}
	if len(got) != len(want) {
		t.Fatalf("Reap after sender 0 is read again: %d txs, want a3, a4 and b1", len(got))
	}
	for _, tx := range got {
		if !want[tx.Hash()] {
			t.Errorf("Reap returned nonce %d of %s", tx.Nonce, tx.Sender())
		}
	}
	if n, err := m.PendingNonce(me); err != nil || n != 5 {
		t.Errorf("NextNonce = %d, %v; want 5", n, err)
	}
	if n := len(chain.commit(t, got...)); n != len(got) {
		t.Fatalf("the block took %d of the %d reaped txs", n, len(got))
	}
}

// TestUpdateUnreadableRevivedByAdd checks that a sender left unread by an
// Update is read again when it sends its next tx, and its queue is then
// proposed; before that, ExpireQueued, which cannot tell what an unread
// queue waits for, must keep it.
func TestUpdateUnreadableRevivedByAdd(t *testing.T) {
	chain := newTestChain(1000)
	m := newPool(t, testConfig(), chain.state)
	a0, a1, a2 := signedTx(0, 0, 10, 1), signedTx(0, 1, 10, 1), signedTx(0, 2, 10, 1)
	mustAdd(t, m, a0, a1)
	state := flakyState{chain.state, map[crypto.Address]bool{testAddr(0): true}}
	m.Update(chain.commit(t, a0), state)
	if m.Executable() {
		t.Fatal("an unread sender's queue counts as executable")
	}
	if expired := m.ExpireQueued(1, 0); len(expired) != 0 {
		t.Fatalf("ExpireQueued dropped %d txs of an unread sender", len(expired))
	}
	delete(state.failing, testAddr(0)) // the store answers again
	if n, err := m.PendingNonce(testAddr(0)); err != nil || n != 2 {
		t.Fatalf("NextNonce = %d, %v; want 2 (account nonce 1, nonce 1 pending)", n, err)
	}
	mustAdd(t, m, a2)
	if got := m.Reap(10, 1<<20); len(got) != 2 || got[0].Hash() != a1.Hash() || got[1].Hash() != a2.Hash() {
		t.Fatalf("Reap = %d txs, want a1 and a2", len(got))
	}
}

// TestUpdateUnreadableNotEvictedFirst checks that the txs of a sender
// left unread do not count as waiting behind a nonce gap (which bids
// nothing for room) because the account they are held against is old: a
// full pool turns away a cheaper newcomer rather than evict them.
func TestUpdateUnreadableNotEvictedFirst(t *testing.T) {
	chain := newTestChain(1000, 1000, 1000)
	cfg := testConfig()
	cfg.TxsMax = 3
	m := newPool(t, cfg, chain.state)
	a0, a1, a2 := signedTx(0, 0, 10, 5), signedTx(0, 1, 10, 5), signedTx(0, 2, 10, 5)
	mustAdd(t, m, a0, a1, a2)
	m.Update(chain.commit(t, a0), flakyState{chain.state, map[crypto.Address]bool{testAddr(0): true}})
	mustAdd(t, m, signedTx(1, 0, 10, 5))
	if err := m.Add(signedTx(2, 0, 10, 3)); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("Add of a cheaper tx to a full pool: %v, want ErrMempoolFull", err)
	}
	for _, kept := range []*ledger.Tx{a1, a2} {
		if _, ok := m.Get(kept.Hash()); !ok {
			t.Fatalf("nonce %d of the unread sender evicted", kept.Nonce)
		}
	}
}

// TestPendingNonce checks the nonce a wallet is told to use next: the
// account nonce, plus the consecutive pending ones, not counting txs above
// a gap, and following commits; it adds and commits txs of one sender.
func TestPendingNonce(t *testing.T) {
	chain := newTestChain(1000)
	m := newPool(t, testConfig(), chain.state)
	me := testAddr(0)
	check := func(want uint64) {
		t.Helper()
		if got, err := m.PendingNonce(me); err != nil || got != want {
			t.Fatalf("PendingNonce = %d, %v, want %d", got, err, want)
		}
	}
	check(0)
	t0, t1, t2, t4 := signedTx(0, 0, 1, 1), signedTx(0, 1, 1, 1), signedTx(0, 2, 1, 1), signedTx(0, 4, 1, 1)
	mustAdd(t, m, t0, t1, t4)
	check(2)
	mustAdd(t, m, t2)
	check(3)
	m.Update(chain.commit(t, t0, t1, t2), chain.state)
	check(3)
	mustAdd(t, m, signedTx(0, 3, 1, 1))
	check(5)
	m.Update(chain.commit(t, m.Reap(10, 1<<20)...), chain.state)
	check(5)
	if n, _ := m.Size(); n != 0 {
		t.Fatalf("%d txs left after everything committed", n)
	}
	if got, err := m.PendingNonce(testAddr(9)); err != nil || got != 0 {
		t.Fatalf("unknown account: %d, %v", got, err)
	}
}

// TestExecutable: a pool holding only txs behind a nonce gap has nothing
// executable (the primary must not keep proposing empty blocks for them);
// the tx that fills the gap makes the whole run executable, and
// committing the run leaves the pool with nothing executable again.
func TestExecutable(t *testing.T) {
	chain := newTestChain(1000, 1000)
	m := newPool(t, testConfig(), chain.state)
	if m.Executable() {
		t.Fatal("empty pool executable")
	}
	a1, a2 := signedTx(0, 1, 10, 1), signedTx(0, 2, 10, 1)
	mustAdd(t, m, a1, a2)
	if m.Executable() {
		t.Fatal("txs behind a nonce gap (account nonce 0, pending 1 and 2) counted executable")
	}
	a0 := signedTx(0, 0, 10, 1)
	mustAdd(t, m, a0)
	if !m.Executable() {
		t.Fatal("the gap is filled (pending 0, 1, 2) but nothing is executable")
	}
	b5 := signedTx(1, 5, 10, 1)
	mustAdd(t, m, b5)
	m.Update(chain.commit(t, a0, a1, a2), chain.state)
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	if n, _ := m.Size(); n != 1 || m.Executable() {
		t.Fatalf("after the run committed: %d pending, executable %v; want 1 gapped tx, not executable", n, m.Executable())
	}
}

// readLog is a state that records every account read and may run a hook
// on the first one.
type readLog struct {
	ledger.StateReader
	read   []crypto.Address
	onRead func()
}

func (r *readLog) GetAccount(a crypto.Address) (ledger.Account, error) {
	r.read = append(r.read, a)
	if hook := r.onRead; hook != nil {
		r.onRead = nil
		hook()
	}
	return r.StateReader.GetAccount(a)
}

// TestUpdateReadsOnlyPendingSenders checks that Update reads the account
// of a committed tx's sender only if the pool holds txs of that sender:
// in a catch-up the pool is empty, and a read per committed tx was a
// tenth of the loop's work.
func TestUpdateReadsOnlyPendingSenders(t *testing.T) {
	chain := newTestChain(1000, 1000, 1000)
	m := newPool(t, testConfig(), chain.state)
	a0, a1 := signedTx(0, 0, 1, 1), signedTx(0, 1, 1, 1)
	mustAdd(t, m, a0, a1)
	committed := chain.commit(t, a0, signedTx(1, 0, 1, 1), signedTx(2, 0, 1, 1))
	state := &readLog{StateReader: chain.state}
	m.Update(committed, state)
	if len(state.read) != 1 || state.read[0] != testAddr(0) {
		t.Errorf("Update read accounts %v, want only sender 0's %s", state.read, testAddr(0))
	}
	if _, ok := m.Get(a0.Hash()); ok {
		t.Error("committed a0 still pending")
	}
	if _, ok := m.Get(a1.Hash()); !ok {
		t.Error("a1 dropped")
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateSenderAddedDuringReads checks a sender whose first tx is
// added while Update reads the other senders' accounts, against the state
// before the block: Update did not read its account, yet the nonce the
// block used must not stay pending.
func TestUpdateSenderAddedDuringReads(t *testing.T) {
	chain := newTestChain(1000, 1000)
	m := newPool(t, testConfig(), chain.frozen())
	a0, a1 := signedTx(0, 0, 1, 1), signedTx(0, 1, 1, 1)
	mustAdd(t, m, a0, a1)
	committed := chain.commit(t, a0, signedTx(1, 0, 5, 1))
	late, next := signedTx(1, 0, 7, 1), signedTx(1, 1, 7, 1) // nonce 0 is used by the block
	state := &readLog{StateReader: chain.state, onRead: func() { mustAdd(t, m, late, next) }}
	m.Update(committed, state)
	if _, ok := m.Get(late.Hash()); ok {
		t.Error("a tx at a nonce the block used is still pending")
	}
	if _, ok := m.Get(next.Hash()); !ok {
		t.Error("the sender's next nonce was dropped")
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	// The sender is read again by the next Update, and its tx is ready.
	m.Update(nil, chain.state)
	if got := m.Reap(10, 1<<20); len(got) != 2 {
		t.Errorf("Reap after the retry: %d txs, want a1 and the sender's nonce 1", len(got))
	}
}
