package mempool

import (
	"slices"
	"testing"

	"github.com/synod-chain/synod/ledger"
)

// TestForRebroadcast checks re-gossip on a logical clock: a tx counts as
// gossiped at the first call after it arrived, so nothing is due before a
// whole interval has passed since that call; due txs come oldest first,
// at most RebroadcastTxsMax per call, and committed txs never come back;
// it drives the clock by hand.
func TestForRebroadcast(t *testing.T) {
	chain := newTestChain(1000, 1000)
	cfg := testConfig()
	cfg.RebroadcastTxsMax = 2
	m := newPool(t, cfg, chain.state)
	a0, a1, b0 := signedTx(0, 0, 1, 1), signedTx(0, 1, 1, 1), signedTx(1, 0, 1, 1)
	mustAdd(t, m, a0, a1) // before any call: they count as gossiped at 50
	if got := m.ForRebroadcast(50, 100); len(got) != 0 {
		t.Fatalf("at 50: %d txs, want none", len(got))
	}
	mustAdd(t, m, b0) // between the calls at 50 and 100: counts as gossiped at 100
	if got := m.ForRebroadcast(100, 100); len(got) != 0 {
		t.Fatalf("at 100: %d txs, want none (a0 and a1 are due at 150, b0 at 200)", len(got))
	}
	got := m.ForRebroadcast(150, 100)
	if !slices.Equal(hashes(got), hashes([]*ledger.Tx{a0, a1})) {
		t.Fatalf("at 150: %d txs, want a0 a1", len(got))
	}
	if got := m.ForRebroadcast(199, 100); len(got) != 0 {
		t.Fatalf("at 199: %d txs, want none (b0 is due at 200)", len(got))
	}
	if got := m.ForRebroadcast(200, 100); len(got) != 1 || got[0].Hash() != b0.Hash() {
		t.Fatalf("at 200: %d txs, want b0", len(got))
	}
	// A clock going backwards counts as the latest time seen.
	if got := m.ForRebroadcast(10, 100); len(got) != 0 {
		t.Fatalf("clock going back: %d txs", len(got))
	}
	m.Update(chain.commit(t, a0), chain.state)
	got = m.ForRebroadcast(1000, 100)
	if !slices.Equal(hashes(got), hashes([]*ledger.Tx{a1, b0})) {
		t.Fatalf("at 1000: %d txs, want a1 b0", len(got))
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestForRebroadcastFreshTxs: with calls every interval, as the node
// makes them, a tx still pending at the first call after it arrived is not
// gossiped again then, however close to that call it arrived; it is once
// it has waited a whole interval more. Stamping arrivals with the previous
// call's time made every tx pending at a call due at that call.
func TestForRebroadcastFreshTxs(t *testing.T) {
	chain := newTestChain(1000)
	m := newPool(t, testConfig(), chain.state)
	const interval = 2000
	m.ForRebroadcast(0, interval)
	txs := []*ledger.Tx{signedTx(0, 0, 1, 1), signedTx(0, 1, 1, 1), signedTx(0, 2, 1, 1)}
	mustAdd(t, m, txs...) // at 1999 on the caller's clock, say
	if got := m.ForRebroadcast(interval, interval); len(got) != 0 {
		t.Fatalf("first call after arrival: %d txs gossiped again, want none", len(got))
	}
	if got := m.ForRebroadcast(2*interval-1, interval); len(got) != 0 {
		t.Fatalf("before a whole interval since that call: %d txs", len(got))
	}
	if got := m.ForRebroadcast(2*interval, interval); !slices.Equal(hashes(got), hashes(txs)) {
		t.Fatalf("an interval after the first call: %d txs, want all 3", len(got))
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestForRebroadcastBounded checks that a zero or negative interval still
// hands out each tx at most once per call, with a pool larger than the
// per-call bound.
func TestForRebroadcastBounded(t *testing.T) {
	chain := newTestChain(1000)
	cfg := testConfig()
	cfg.RebroadcastTxsMax = 100
	m := newPool(t, cfg, chain.state)
	mustAdd(t, m, signedTx(0, 0, 1, 1), signedTx(0, 1, 1, 1), signedTx(0, 2, 1, 1))
	for _, interval := range []int64{0, -5} {
		if got := m.ForRebroadcast(7, interval); len(got) != 3 {
			t.Fatalf("interval %d: %d txs, want each of 3 once", interval, len(got))
		}
	}
}

// TestExpireQueued: txs behind a nonce gap expire once they have waited
// the lifetime, counted on the pool's logical clock from their arrival
// (or from the first time the pool was told the time, for txs that came
// before, as a journal replay at start does); executable txs and younger
// queued ones stay, and the pool's indexes stay consistent.
func TestExpireQueued(t *testing.T) {
	chain := newTestChain(1000, 1000)
	m := newPool(t, testConfig(), chain.state)
	a2, a3, b0 := signedTx(0, 2, 10, 1), signedTx(0, 3, 10, 1), signedTx(1, 0, 10, 1)
	mustAdd(t, m, a2, a3, b0)        // before any time: sender 0 waits for nonces 0 and 1
	m.ForRebroadcast(500, 1_000_000) // the clock starts at 500: they count from there
	m.ForRebroadcast(1000, 1_000_000)
	a5 := signedTx(0, 5, 10, 1)
	mustAdd(t, m, a5) // arrives at 1000
	if got := m.ExpireQueued(1499, 1000); len(got) != 0 {
		t.Fatalf("expired %d txs before any waited the lifetime", len(got))
	}
	got := m.ExpireQueued(1500, 1000)
	if want := hashes([]*ledger.Tx{a3, a2}); !slices.Equal(hashes(got), want) {
		t.Fatalf("expired %v, want nonces 3 and 2 of sender 0", got)
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	for _, kept := range []*ledger.Tx{b0, a5} {
		if _, ok := m.Get(kept.Hash()); !ok {
			t.Errorf("nonce %d of %s expired", kept.Nonce, kept.Sender())
		}
	}
	// The executable tx never expires; the young queued one does in time.
	got = m.ExpireQueued(1_000_000, 1000)
	if len(got) != 1 || got[0].Hash() != a5.Hash() {
		t.Fatalf("late expiry: %v, want only nonce 5 of sender 0", got)
	}
	if n, _ := m.Size(); n != 1 || !m.Executable() {
		t.Fatalf("%d txs left, executable %v; want b0 alone", n, m.Executable())
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}
