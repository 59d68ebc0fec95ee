package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

var errAccountRead = errors.New("test: account read failed (I/O error)")

// failingAccountReads is the committed state of a node whose disk fails
// every account read, as a Store's reads do when Pebble does.
type failingAccountReads struct{ ledger.StateReader }

func (failingAccountReads) GetAccount(addr crypto.Address) (ledger.Account, error) {
	return ledger.Account{}, fmt.Errorf("store: get account %s: %w", addr, errAccountRead)
}

// TestDriverStopsOnLocalStoreFault checks that a node whose store fails
// its account reads while validating an honest primary's block stops its
// consensus loop with the read error (fail-stop), and keeps no evidence
// against the primary; the three others commit the block without it.
// Method: four in-process loops; node 1's pending chain reads a state
// whose account reads fail, which an empty block never does, so node 1
// takes part until a transfer arrives.
func TestDriverStopsOnLocalStoreFault(t *testing.T) {
	c := newTestCluster(t, 4)
	c.drivers[1].staged.store = failingAccountReads{c.stores[1]}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make([]chan error, len(c.drivers))
	for i, d := range c.drivers {
		stopped[i] = make(chan error, 1)
		go func() { stopped[i] <- d.run(ctx) }()
	}
	defer func() {
		cancel()
		for _, s := range stopped {
			<-s
		}
	}()
	tx := &ledger.Tx{ChainID: c.genesis.ChainID, To: c.accounts[1].Public().Address(), Amount: 10, Fee: 1}
	tx.Sign(c.accounts[0])
	for _, p := range c.pools {
		p.add(tx)
	}
	select {
	case err := <-stopped[1]:
		stopped[1] <- err // for the deferred wait
		if !errors.Is(err, ledger.ErrLocalState) || !errors.Is(err, errAccountRead) {
			t.Fatalf("node 1 stopped with %v, want its account read error as a local fault", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("node 1 still runs 30s after its store failed a read; evidence %+v", c.drivers[1].evidenceSeen())
	}
	if ev := c.drivers[1].evidenceSeen(); len(ev) != 0 {
		t.Errorf("node 1 blames others for its own store: %+v", ev)
	}
	deadline := time.After(30 * time.Second)
	for _, i := range []int{0, 2, 3} {
		for {
			if _, _, err := c.stores[i].TxLocation(tx.Hash()); err == nil {
				break
			}
			select {
			case <-deadline:
				t.Fatalf("node %d did not commit the transfer within 30s (head %d)", i, c.stores[i].Head().Height)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}
