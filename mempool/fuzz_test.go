package mempool

import (
	"testing"

	"github.com/synod-chain/synod/ledger"
)

// FuzzAddDecoded feeds arbitrary bytes through the gossip path (DecodeTx,
// then Add) into a pool that already holds txs, checking that nothing
// panics and that every invariant holds whatever Add decides. The seeds
// are valid encodings, so mutations explore near-valid txs.
func FuzzAddDecoded(f *testing.F) {
	for _, tx := range []*ledger.Tx{
		signedTx(0, 0, 1, 1), signedTx(0, 1, 5, 20), signedTx(1, 3, 1, 0),
		signedTxTo(1, 0, sink, 2, 2, []byte("memo")),
	} {
		f.Add(tx.Encode())
	}
	chain := newTestChain(1000, 50)
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := ledger.DecodeTx(data)
		if err != nil {
			return
		}
		cfg := testConfig()
		cfg.TxsMax = 3
		m := newPool(t, cfg, chain.state)
		mustAdd(t, m, signedTx(0, 0, 1, 1), signedTx(1, 0, 1, 1), signedTx(0, 2, 1, 1))
		if err := m.Add(tx); err == nil {
			if _, ok := m.Get(tx.Hash()); !ok {
				t.Fatal("accepted tx not pending")
			}
		}
		if err := m.checkInvariants(); err != nil {
			t.Fatal(err)
		}
		checkReapedTB(t, chain, m.Reap(10, 1<<20))
	})
}

// checkReapedTB is checkReaped for a *testing.T.
func checkReapedTB(t *testing.T, chain *testChainState, got []*ledger.Tx) {
	t.Helper()
	if b, _ := chain.build(t, got); len(b.Txs) != len(got) {
		t.Fatalf("BuildBlock took %d of %d reaped txs", len(b.Txs), len(got))
	}
}
