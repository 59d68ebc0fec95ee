package mempool

import (
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
// after a block loses its pending txs and nobody else does, with a state
// that fails reads.
func TestUpdateUnreadable(t *testing.T) {
	chain := newTestChain(1000, 1000)
	m := newPool(t, testConfig(), chain.state)
	mustAdd(t, m, signedTx(0, 1, 1, 1), signedTx(1, 0, 1, 1))
	m.Update([]*ledger.Tx{signedTx(0, 0, 1, 1), nil}, failingState{})
	if n, _ := m.Size(); n != 1 {
		t.Fatalf("Size = %d after an unreadable Update, want 1", n)
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
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
		if got := m.PendingNonce(me); got != want {
			t.Fatalf("PendingNonce = %d, want %d", got, want)
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
	if got := m.PendingNonce(testAddr(9)); got != 0 {
		t.Fatalf("unknown account: %d", got)
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
