package node

import (
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// TestStagedStateLayers checks what the pending chain reads while batches
// are stored in the background: the newest staged value of an account
// wins, an account no layer holds comes from the store, the state hash is
// the newest layer's, and dropping the oldest layer (its batch stored)
// leaves the newer one in front.
func TestStagedStateLayers(t *testing.T) {
	g := &ledger.Genesis{ChainID: "staged", Consensus: ledger.DefaultConsensusParams()}
	a, b, c := crypto.Address{1}, crypto.Address{2}, crypto.Address{3}
	key, err := crypto.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g.Validators = []ledger.Validator{{Name: "v", PublicKey: key.Public()}}
	g.Accounts = []ledger.GenesisAccount{{Address: c, Amount: 7}}
	store, err := ledger.OpenStore(filepath.Join(t.TempDir(), "ledger"), ledger.StoreOptions{ChainID: g.ChainID})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.InitGenesis(g); err != nil {
		t.Fatal(err)
	}
	s := &stagedState{store: store}
	write := func(hashByte byte, accts map[crypto.Address]ledger.Account) ledger.BlockWrite {
		var h ledger.LtHash
		h.Add([]byte{hashByte})
		return ledger.BlockWrite{Diff: &ledger.StateDiff{Accounts: accts, Hash: h}}
	}
	older := write(1, map[crypto.Address]ledger.Account{a: {Balance: 1}, b: {Balance: 1}})
	newer := write(2, map[crypto.Address]ledger.Account{a: {Balance: 2}})
	s.stage([]ledger.BlockWrite{older})
	s.stage([]ledger.BlockWrite{newer})
	for _, tc := range []struct {
		addr crypto.Address
		want uint64
	}{{a, 2}, {b, 1}, {c, 7}} {
		if got, err := s.GetAccount(tc.addr); err != nil || got.Balance != tc.want {
			t.Fatalf("account %x: balance %d (%v), want %d", tc.addr[:1], got.Balance, err, tc.want)
		}
	}
	if s.StateHash() != newer.Diff.Hash {
		t.Fatal("the state hash is not the newest layer's")
	}
	s.dropOldest()
	if got, _ := s.GetAccount(b); got.Balance != 0 {
		t.Fatalf("a dropped layer's account still reads %d", got.Balance)
	}
	if got, _ := s.GetAccount(a); got.Balance != 2 {
		t.Fatalf("the newer layer's account reads %d", got.Balance)
	}
	s.dropOldest()
	if s.StateHash() != store.StateHash() {
		t.Fatal("with no layer, the state hash is not the store's")
	}
}
