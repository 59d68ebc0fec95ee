package mempool

import (
	"errors"
	"testing"

	"github.com/synod-chain/synod/ledger"
)

// TestAddBatchVerifiesInOneBatch checks AddBatch: a forged signature in the
// middle of a batch is refused alone, a duplicate is refused before any
// signature work, the others are added, and verified hashes land in the
// shared SigCache (so a second pool sharing it accepts the same txs with
// their signatures already known).
func TestAddBatchVerifiesInOneBatch(t *testing.T) {
	chain := newTestChain(1_000_000, 1_000_000)
	cfg := testConfig()
	cfg.SigCache = ledger.NewSigCache(64)
	m := newPool(t, cfg, chain.state)
	forged := signedTx(1, 0, 10, 1)
	forged.Signature[3] ^= 1
	good0, good1 := signedTx(0, 0, 10, 1), signedTx(0, 1, 10, 1)
	errs := m.AddBatch([]*ledger.Tx{good0, forged, good1, good0})
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("valid txs refused: %v, %v", errs[0], errs[2])
	}
	if !errors.Is(errs[1], ledger.ErrTxBadSignature) {
		t.Fatalf("forged tx: %v", errs[1])
	}
	if !errors.Is(errs[3], ErrDuplicate) {
		t.Fatalf("repeated tx in one batch: %v", errs[3])
	}
	if txs, _ := m.Size(); txs != 2 {
		t.Fatalf("pool holds %d txs, want 2", txs)
	}
	if !cfg.SigCache.Contains(good0.Hash()) || !cfg.SigCache.Contains(good1.Hash()) || cfg.SigCache.Contains(forged.Hash()) {
		t.Fatal("SigCache does not hold exactly the verified txs")
	}
	other := newPool(t, cfg, chain.state)
	if errs := other.AddBatch([]*ledger.Tx{good0, good1}); errs[0] != nil || errs[1] != nil {
		t.Fatalf("second pool: %v", errs)
	}
}

// TestUpdateForgetsCommittedSignatures checks that Update drops the
// committed txs from the shared SigCache and keeps the pending ones, whose
// blocks are still to be validated.
func TestUpdateForgetsCommittedSignatures(t *testing.T) {
	chain := newTestChain(1_000_000)
	cfg := testConfig()
	cfg.SigCache = ledger.NewSigCache(64)
	m := newPool(t, cfg, chain.state)
	a0, a1 := signedTx(0, 0, 10, 1), signedTx(0, 1, 10, 1)
	mustAdd(t, m, a0, a1)
	m.Update(chain.commit(t, a0), chain.state)
	if cfg.SigCache.Contains(a0.Hash()) {
		t.Error("committed tx still in the SigCache")
	}
	if !cfg.SigCache.Contains(a1.Hash()) {
		t.Error("pending tx dropped from the SigCache")
	}
	if n := cfg.SigCache.Len(); n != 1 {
		t.Errorf("SigCache holds %d hashes, want 1", n)
	}
}

// TestAddBatchAccountRefusesBeforeSignature: txs the sender's account
// refuses whatever else is pending (a used nonce, a nonce past the window,
// a cost above the balance) are refused before their signature is
// checked: a peer replaying such signed txs costs no verification, which
// shows as their hashes staying out of the SigCache, and a forged one
// among them gets the account's refusal, not ErrTxBadSignature.
func TestAddBatchAccountRefusesBeforeSignature(t *testing.T) {
	chain := newTestChain(1_000, 1_000)
	cfg := testConfig()
	cfg.SigCache = ledger.NewSigCache(64)
	m := newPool(t, cfg, chain.state)
	t0 := signedTx(0, 0, 10, 1)
	mustAdd(t, m, t0)
	m.Update(chain.commit(t, t0), chain.state) // account 0's nonce is now 1

	used := signedTx(0, 0, 20, 1)
	farAhead := signedTx(0, 1+cfg.NonceAheadMax+1, 10, 1)
	tooDear := signedTx(1, 0, 5_000, 1)
	forged := signedTx(1, 0, 5_000, 2)
	forged.Signature[3] ^= 1
	runnable := signedTx(1, 0, 10, 1)
	errs := m.AddBatch([]*ledger.Tx{used, farAhead, tooDear, forged, runnable})
	for i, want := range []error{ledger.ErrTxNonceTooLow, ErrNonceTooFarAhead, ledger.ErrTxInsufficientFunds, ledger.ErrTxInsufficientFunds, nil} {
		if !errors.Is(errs[i], want) || (want == nil) != (errs[i] == nil) {
			t.Errorf("tx %d: %v, want %v", i, errs[i], want)
		}
		if want != nil && !RefusedBeforeSignature(errs[i]) {
			t.Errorf("tx %d: %v is not reported as refused before its signature", i, errs[i])
		}
	}
	for i, tx := range []*ledger.Tx{used, farAhead, tooDear} {
		if cfg.SigCache.Contains(tx.Hash()) {
			t.Errorf("tx %d, refused by its account, had its signature verified", i)
		}
	}
	if !cfg.SigCache.Contains(runnable.Hash()) {
		t.Error("the runnable tx's signature was not verified")
	}
}
