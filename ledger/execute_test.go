package ledger_test

import (
	"errors"
	"math"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

var errDiskRead = errors.New("test: disk read failed")

// failingState is a committed state whose reads of one address fail, as a
// Store's reads can when the disk does.
type failingState struct {
	ledger.StateReader
	fail crypto.Address
}

func (f failingState) GetAccount(addr crypto.Address) (ledger.Account, error) {
	if addr == f.fail {
		return ledger.Account{}, errDiskRead
	}
	return f.StateReader.GetAccount(addr)
}

// TestExecuteBlockReportsReadErrors checks that a state read failure
// during execution is returned (wrapped), and not as ErrBlockBadTx: a
// replica's disk error says nothing about the block, and a caller that
// branches on ErrBlockBadTx would blame an honest primary for it.
func TestExecuteBlockReportsReadErrors(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	b, _ := c.build(t, testAddr(0), []*ledger.Tx{signedTx(testChain, testKey(0), 0, testAddr(1), 10, 1, nil)})
	for _, addr := range []crypto.Address{testAddr(0), testAddr(1)} {
		_, err := ledger.ExecuteBlock(testChain, failingState{c.state, addr}, b)
		if !errors.Is(err, errDiskRead) {
			t.Errorf("read of %s fails: err = %v, want it wrapped", addr, err)
		}
		if !errors.Is(err, ledger.ErrLocalState) {
			t.Errorf("read of %s fails: err = %v, want it classed as ErrLocalState", addr, err)
		}
		if errors.Is(err, ledger.ErrBlockBadTx) {
			t.Errorf("read of %s fails: reported as an invalid block: %v", addr, err)
		}
	}
}

// corruptState is a committed state holding a balance no chain reaches:
// rich's balance is the largest there is, above the supply.
type corruptState struct {
	ledger.StateReader
	rich crypto.Address
}

func (c corruptState) GetAccount(addr crypto.Address) (ledger.Account, error) {
	if addr == c.rich {
		return ledger.Account{Balance: math.MaxUint64}, nil
	}
	return c.StateReader.GetAccount(addr)
}

// TestExecuteBlockOverflowIsLocalFault checks that a valid block whose
// payment would overflow a balance of a corrupt state fails with
// ErrLocalState, not as an invalid block: supply is conserved and fits,
// so only this node's state can overflow, never the proposer's block.
func TestExecuteBlockOverflowIsLocalFault(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	b, _ := c.build(t, testAddr(0), []*ledger.Tx{signedTx(testChain, testKey(0), 0, testAddr(1), 10, 1, nil)})
	_, err := ledger.ExecuteBlock(testChain, corruptState{c.state, testAddr(1)}, b)
	if !errors.Is(err, ledger.ErrLocalState) || errors.Is(err, ledger.ErrBlockBadTx) {
		t.Fatalf("ExecuteBlock on a corrupt state = %v, want ErrLocalState and not ErrBlockBadTx", err)
	}
}

// TestBuildBlockReadErrorLeavesNoHalfAppliedTx checks that BuildBlock's
// block and diff agree when a state read fails mid-tx: the recipient's
// read fails after the sender was debited. BuildBlock must either return
// the error or produce a block whose state root is what executing its txs
// gives; a skipped tx must leave no trace in the diff.
func TestBuildBlockReadErrorLeavesNoHalfAppliedTx(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	tx := signedTx(testChain, testKey(0), 0, testAddr(1), 10, 1, nil)
	b, diff, err := ledger.BuildBlock(c.template(testAddr(0)), failingState{c.state, testAddr(1)}, []*ledger.Tx{tx})
	if err != nil {
		if !errors.Is(err, errDiskRead) {
			t.Fatalf("BuildBlock: err = %v, want the read error wrapped", err)
		}
		return
	}
	if _, ok := diff.Accounts[testAddr(0)]; ok && len(b.Txs) == 0 {
		t.Errorf("the skipped tx's debit of its sender is in the diff: %+v", diff.Accounts[testAddr(0)])
	}
	if _, err := ledger.ValidateBlock(testChain, c.params, &c.head, c.state, b); err != nil {
		t.Errorf("the primary's own block (%d txs) fails validation on a healthy replica: %v", len(b.Txs), err)
	}
}
