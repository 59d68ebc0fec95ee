package node

import (
	"errors"
	"testing"

	"github.com/synod-chain/synod/ledger"
)

// TestTxJournalReplaysUncommittedInNonceOrder journals txs, removes the
// committed one, reopens the journal (as after a crash) and checks that the
// rest are replayed in nonce order and that refused ones are dropped for
// good.
func TestTxJournalReplaysUncommittedInNonceOrder(t *testing.T) {
	g, _, accts := testGenesis(t, 1, 1)
	dir := t.TempDir()
	j, err := openTxJournal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var txs []*ledger.Tx
	for nonce := uint64(0); nonce < 5; nonce++ {
		tx := &ledger.Tx{ChainID: g.ChainID, Nonce: nonce, To: accts[0].Public().Address(), Amount: 1}
		tx.Sign(accts[0])
		txs = append(txs, tx)
		if err := j.add([]*ledger.Tx{tx}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.remove(txs[:1]); err != nil {
		t.Fatal(err)
	}
	j.Close()

	j, err = openTxJournal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	kept, dropped, err := j.replay(func(tx *ledger.Tx) error {
		if tx.Nonce == 4 {
			return errors.New("refused")
		}
		got = append(got, tx.Nonce)
		return nil
	})
	if err != nil || kept != 3 || dropped != 1 {
		t.Fatalf("replay: kept %d dropped %d err %v", kept, dropped, err)
	}
	for i, n := range got {
		if n != uint64(i+1) {
			t.Fatalf("replayed nonces %v, want 1 2 3", got)
		}
	}
	kept, dropped, err = j.replay(func(*ledger.Tx) error { return nil })
	if err != nil || kept != 3 || dropped != 0 {
		t.Fatalf("second replay: kept %d dropped %d err %v (the refused tx must be gone)", kept, dropped, err)
	}
	j.Close()
}
