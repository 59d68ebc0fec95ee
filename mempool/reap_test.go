package mempool

import (
	"slices"

	"github.com/synod-chain/synod/crypto"
	"testing"

	"github.com/synod-chain/synod/ledger"
)

// TestReapNonceOrder checks that Reap returns each sender's executable
// txs in nonce order and leaves out those above a gap, by adding three
// senders' txs in scrambled nonce order.
func TestReapNonceOrder(t *testing.T) {
	chain := newTestChain(1000, 1000, 1000)
	chain.commit(t, signedTx(2, 0, 1, 1)) // sender 2 starts at nonce 1
	m := newPool(t, testConfig(), chain.state)
	mustAdd(t, m,
		signedTx(0, 2, 1, 7), signedTx(1, 1, 1, 3), signedTx(0, 0, 1, 2), signedTx(2, 3, 1, 9),
		signedTx(1, 0, 1, 4), signedTx(0, 1, 1, 8), signedTx(2, 1, 1, 1), signedTx(0, 4, 1, 9))
	got := m.Reap(100, 1<<20)
	last := map[[20]byte]uint64{}
	count := map[[20]byte]int{}
	for _, tx := range got {
		from := tx.Sender()
		if n, seen := last[from]; seen && tx.Nonce != n+1 {
			t.Fatalf("sender %s: nonce %d after %d", from, tx.Nonce, n)
		}
		last[from] = tx.Nonce
		count[from]++
	}
	// Sender 0: 0,1,2 (4 waits for 3). Sender 1: 0,1. Sender 2: 1 (3 waits for 2).
	if count[testAddr(0)] != 3 || count[testAddr(1)] != 2 || count[testAddr(2)] != 1 || len(got) != 6 {
		t.Fatalf("reaped %d/%d/%d txs of senders 0/1/2 (%d total), want 3/2/1",
			count[testAddr(0)], count[testAddr(1)], count[testAddr(2)], len(got))
	}
	if n, _ := m.Size(); n != 8 {
		t.Fatalf("Reap removed txs: %d left, want 8", n)
	}
}

// TestReapFeePriority checks the interleaving: at each step the highest
// fee among the senders' next txs goes first, equal fees by arrival, and a
// sender's cheap first tx holds back its dear second one; the expected
// order is written out by hand.
func TestReapFeePriority(t *testing.T) {
	chain := newTestChain(1000, 1000, 1000, 1000)
	m := newPool(t, testConfig(), chain.state)
	a0, a1 := signedTx(0, 0, 1, 5), signedTx(0, 1, 1, 100)
	b0, b1 := signedTx(1, 0, 1, 50), signedTx(1, 1, 1, 10)
	c0 := signedTx(2, 0, 1, 10)
	d0 := signedTx(3, 0, 1, 10)
	mustAdd(t, m, a0, a1, d0, b0, b1, c0)
	// Heads: a0 5, b0 50, c0 10, d0 10. b0 goes; b1 (10, arrived before c0)
	// competes: d0 arrived first of the 10s, then b1, then c0; then a0
	// unlocks a1.
	want := []*ledger.Tx{b0, d0, b1, c0, a0, a1}
	got := m.Reap(100, 1<<20)
	if !slices.Equal(hashes(got), hashes(want)) {
		t.Fatalf("Reap order: fees %v, want %v", fees(got), fees(want))
	}
	// Limits cut the same order short.
	if got := m.Reap(3, 1<<20); !slices.Equal(hashes(got), hashes(want[:3])) {
		t.Fatalf("Reap(3): fees %v, want %v", fees(got), fees(want[:3]))
	}
}

// TestReapBytes checks the byte limit: a tx that does not fit is skipped
// with its sender's later nonces while smaller txs of others still go in,
// using one large-memo sender among small ones.
func TestReapBytes(t *testing.T) {
	chain := newTestChain(1000, 1000, 1000)
	m := newPool(t, testConfig(), chain.state)
	big0, big1 := signedTxTo(0, 0, sink, 1, 100, make([]byte, 250)), signedTx(0, 1, 1, 100)
	s1, s2 := signedTx(1, 0, 1, 10), signedTx(2, 0, 1, 5)
	mustAdd(t, m, big0, big1, s1, s2)
	small := len(s1.Encode())
	got := m.Reap(10, 2*small)
	if !slices.Equal(hashes(got), hashes([]*ledger.Tx{s1, s2})) {
		t.Fatalf("Reap by bytes: fees %v, want [10 5]", fees(got))
	}
	if got := m.Reap(10, small-1); len(got) != 0 {
		t.Fatalf("Reap with room for no tx returned %d", len(got))
	}
	if got := m.Reap(0, 1<<20); got != nil {
		t.Fatalf("Reap(0) returned %d", len(got))
	}
	want := len(big0.Encode()) + 2*small
	if got := m.Reap(10, want); len(got) != 3 || got[0].Hash() != big0.Hash() {
		t.Fatalf("Reap with room for three: fees %v", fees(got))
	}
}

// TestReapBuildsValidBlock checks that every reaped tx is executable
// together on the committed state, by passing Reap's output to BuildBlock
// with senders whose pending costs use their whole balance.
func TestReapBuildsValidBlock(t *testing.T) {
	chain := newTestChain(300, 300, 300)
	m := newPool(t, testConfig(), chain.state)
	for i := range 3 {
		mustAdd(t, m, signedTx(i, 0, 99, 1), signedTx(i, 1, 99, 1), signedTx(i, 2, 98, 2))
	}
	got := m.Reap(100, 1<<20)
	b, _ := chain.build(t, got)
	if len(b.Txs) != len(got) || len(got) != 9 {
		t.Fatalf("BuildBlock kept %d of %d reaped txs (want 9)", len(b.Txs), len(got))
	}
}

// TestReapAfterSkipsTxsInFlight: with the parent block's nonces, ReapAfter
// leaves out each sender's txs the blocks in flight hold, starts at the
// parent's next nonce, and drops a sender whose next nonce is not pending
// or not reachable without a gap.
func TestReapAfterSkipsTxsInFlight(t *testing.T) {
	chain := newTestChain(1000, 1000, 1000, 1000)
	m := newPool(t, testConfig(), chain.state)
	mustAdd(t, m,
		signedTx(0, 0, 1, 1), signedTx(0, 1, 1, 1), signedTx(0, 2, 1, 1), // sender 0: 0..2
		signedTx(1, 0, 1, 1), signedTx(1, 1, 1, 1), // sender 1: 0..1, all in flight
		signedTx(2, 0, 1, 1), signedTx(2, 3, 1, 1), // sender 2: 0, gap, 3
		signedTx(3, 0, 1, 1)) // sender 3: nothing in flight
	parent := map[crypto.Address]uint64{testAddr(0): 2, testAddr(1): 2, testAddr(2): 3}
	got := m.ReapAfter(100, 1<<20, func(a crypto.Address) uint64 { return parent[a] })
	var desc []string
	for _, tx := range got {
		desc = append(desc, string(rune('a'+int(senderIndex(t, tx))))+string(rune('0'+tx.Nonce)))
	}
	if want := []string{"a2", "d0"}; !slices.Equal(sortedStrings(desc), want) {
		t.Fatalf("ReapAfter = %v, want %v", desc, want)
	}
	if all := m.ReapAfter(100, 1<<20, func(crypto.Address) uint64 { return 0 }); len(all) != len(m.Reap(100, 1<<20)) {
		t.Fatalf("ReapAfter with committed nonces reaped %d, Reap %d", len(all), len(m.Reap(100, 1<<20)))
	}
}

func senderIndex(t *testing.T, tx *ledger.Tx) int {
	t.Helper()
	for i := range 8 {
		if tx.Sender() == testAddr(i) {
			return i
		}
	}
	t.Fatalf("tx from unknown sender %s", tx.Sender())
	return -1
}

func sortedStrings(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
