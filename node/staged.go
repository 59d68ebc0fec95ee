package node

import (
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// stagedState is the committed state as the consensus loop must see it:
// the store, with the accounts of the committed batches it is still
// writing in the background layered on top. The pending chain reads it as
// the state under its head, so the loop can validate the next synced
// blocks while the store takes the last ones.
//
// A read is right at any point of a background write: an account the
// batch changes is found in its layer, and the store's value of any other
// account is the same before and after the batch. A layer is dropped only
// once the store holds its batch. Only the consensus loop uses it.
type stagedState struct {
	// store is the committed state on disk: the ledger.Store (a
	// StateReader, so a test can make its reads fail).
	store  ledger.StateReader
	layers []stagedLayer // oldest first
}

// stagedLayer is one batch's net effect: each account's value after the
// batch, and the state hash after it.
type stagedLayer struct {
	accounts map[crypto.Address]ledger.Account
	hash     ledger.LtHash
}

var _ ledger.StateReader = (*stagedState)(nil)

// stage layers a batch of committed blocks' diffs, oldest first, over the
// state.
func (s *stagedState) stage(writes []ledger.BlockWrite) {
	l := stagedLayer{accounts: make(map[crypto.Address]ledger.Account)}
	for _, w := range writes {
		for addr, a := range w.Diff.Accounts {
			l.accounts[addr] = a
		}
	}
	l.hash = writes[len(writes)-1].Diff.Hash
	s.layers = append(s.layers, l)
}

// dropOldest removes the oldest layer, whose batch the store now holds.
func (s *stagedState) dropOldest() {
	s.layers[0] = stagedLayer{}
	s.layers = s.layers[1:]
}

// GetAccount implements ledger.StateReader.
func (s *stagedState) GetAccount(addr crypto.Address) (ledger.Account, error) {
	for i := len(s.layers) - 1; i >= 0; i-- {
		if a, ok := s.layers[i].accounts[addr]; ok {
			return a, nil
		}
	}
	return s.store.GetAccount(addr)
}

// StateHash implements ledger.StateReader.
func (s *stagedState) StateHash() ledger.LtHash {
	if n := len(s.layers); n > 0 {
		return s.layers[n-1].hash
	}
	return s.store.StateHash()
}
