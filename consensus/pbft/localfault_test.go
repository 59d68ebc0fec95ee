package pbft_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

var errDiskRead = errors.New("test: disk read failed")

// brokenDiskApp is an Application on a node whose disk fails: Validate,
// ValidateCommitted and Build fail as the ledger does when a store read
// fails, with an error wrapping ledger.ErrLocalState.
type brokenDiskApp struct{ pbft.Application }

func (brokenDiskApp) Validate(b *ledger.Block) error {
	return fmt.Errorf("execute block %d: %w: read account: %w", b.Header.Height, ledger.ErrLocalState, errDiskRead)
}

func (a brokenDiskApp) ValidateCommitted(b *ledger.Block) error { return a.Validate(b) }

func (brokenDiskApp) Build(crypto.Hash, uint64, crypto.Address, int64) (*ledger.Block, error) {
	return nil, fmt.Errorf("build block: %w: read account: %w", ledger.ErrLocalState, errDiskRead)
}

// withBrokenDisk makes replica i's application fail its state reads.
func withBrokenDisk(c *cluster, i int) {
	c.wrapApp = func(j int, app pbft.Application) pbft.Application {
		if j == i {
			return brokenDiskApp{app}
		}
		return app
	}
	c.start(i, 10)
}

// checkHaltedOnLocalFault checks that rd, replica i's first output after
// its disk failed, reports the fault and nothing else: no vote, no
// evidence, no view change.
func checkHaltedOnLocalFault(t *testing.T, c *cluster, i int, rd pbft.Ready) {
	t.Helper()
	if !errors.Is(rd.Fault, ledger.ErrLocalState) || !errors.Is(rd.Fault, errDiskRead) {
		t.Errorf("replica %d: Ready.Fault = %v, want the disk read error as a local fault", i, rd.Fault)
	}
	for _, o := range rd.Messages {
		t.Errorf("replica %d sent %s after its own disk failed", i, o.Msg)
	}
	for _, e := range rd.Events {
		t.Errorf("replica %d reported %T %+v for its own disk failing", i, e, e)
	}
	if ev := c.reps[i].Evidence(); len(ev) != 0 {
		t.Errorf("replica %d keeps evidence %+v for its own disk failing", i, ev)
	}
	if v, active := c.reps[i].View(); v != 0 || !active {
		t.Errorf("replica %d in view %d (active %v), want view 0: a local fault is no reason to change view", i, v, active)
	}
}

// checkHalted checks that the halted replica i takes no more input: many
// ticks past the view-change timeout give no output, and a message is
// refused with ErrHalted.
func checkHalted(t *testing.T, c *cluster, i int, m *pbft.Message) {
	t.Helper()
	for range 50 {
		c.reps[i].Tick(c.genesis.Header.Timestamp + 1_000)
	}
	if c.reps[i].HasReady() {
		t.Errorf("halted replica %d has output after ticks: %+v", i, c.reps[i].Ready())
	}
	if err := c.reps[i].Step(m); !errors.Is(err, pbft.ErrHalted) || !errors.Is(err, errDiskRead) {
		t.Errorf("halted replica %d: Step = %v, want ErrHalted with the fault", i, err)
	}
}

// TestLocalFaultInValidateHaltsWithoutBlamingThePrimary checks that a
// replica whose application fails to read its own state while validating
// an honest primary's proposal neither votes nor keeps evidence nor starts
// a view change, but halts and reports the fault to the node (fail-stop);
// the other three then commit the primary's block in view 0. Method: the
// primary proposes, replica 1 (broken disk) steps the PRE-PREPARE by hand.
func TestLocalFaultInValidateHaltsWithoutBlamingThePrimary(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	withBrokenDisk(c, 1)
	pp := stepFirstProposal(t, c, 1)
	rd := c.reps[1].Ready()
	checkHaltedOnLocalFault(t, c, 1, rd)
	c.reps[1].Advance()
	if c.reps[1].HasReady() {
		t.Errorf("the fault is reported again after Advance: %+v", c.reps[1].Ready())
	}
	checkHalted(t, c, 1, pp)

	c.down[1] = true // the node stopped
	c.tickUntil(50, c.allCommitted(1, 0, 2, 3))
	if b := c.committedAt(2, 1).Block; b.Hash() != pp.Digest || b.Header.View != 0 {
		t.Fatalf("height 1 committed %s in view %d, want the primary's %s in view 0", b.Hash().Short(), b.Header.View, pp.Digest.Short())
	}
	for _, i := range []int{0, 2, 3} {
		if ev := c.reps[i].Evidence(); len(ev) != 0 {
			t.Errorf("replica %d keeps evidence %+v", i, ev)
		}
	}
}

// TestLocalFaultInBuildHaltsThePrimary checks that a primary whose
// application fails to read its own state while building a block halts
// and reports the fault instead of proposing or waiting for the next tick.
func TestLocalFaultInBuildHaltsThePrimary(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	withBrokenDisk(c, 0)
	c.reps[0].Tick(c.genesis.Header.Timestamp + 10)
	checkHaltedOnLocalFault(t, c, 0, c.reps[0].Ready())
	c.reps[0].Advance()
	checkHalted(t, c, 0, c.resign(1, &pbft.Message{Kind: pbft.KindPrepare, Height: 1}))
}

// TestLocalFaultInCatchUpHalts checks that a replica whose application
// fails to read its own state while validating a certified block fetched
// by catch-up returns the fault from DeliverCommitted and halts with it,
// rather than refusing the block as if the peer had served a bad one.
func TestLocalFaultInCatchUpHalts(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.down[3] = true
	c.tickUntil(50, c.allCommitted(1, 0, 1, 2))
	withBrokenDisk(c, 3)
	cb := c.committedAt(0, 1)
	if err := c.reps[3].DeliverCommitted(cb.Block, cb.Certificate); !errors.Is(err, ledger.ErrLocalState) {
		t.Fatalf("DeliverCommitted = %v, want the local fault", err)
	}
	checkHaltedOnLocalFault(t, c, 3, c.reps[3].Ready())
	c.reps[3].Advance()
	if err := c.reps[3].DeliverCommitted(cb.Block, cb.Certificate); !errors.Is(err, pbft.ErrHalted) {
		t.Errorf("halted replica: DeliverCommitted = %v, want ErrHalted", err)
	}
	if h, _ := c.reps[3].Committed(); h != 0 {
		t.Errorf("halted replica committed height %d", h)
	}
}

// stepFirstProposal has the view-0 primary propose the first block and
// replica r step the PRE-PREPARE it was sent, by hand; it returns that
// PRE-PREPARE. Step must take it (a refusal of the message itself fails
// the test); what r makes of the block is the caller's to check.
func stepFirstProposal(t *testing.T, c *cluster, r int) *pbft.Message {
	t.Helper()
	c.reps[0].Tick(c.genesis.Header.Timestamp + 10)
	c.flush(0)
	var pp *pbft.Message
	for _, e := range c.queue {
		if e.to == r && e.m.Kind == pbft.KindPrePrepare {
			pp = e.m
		}
	}
	if pp == nil {
		t.Fatalf("the primary proposed nothing to replica %d", r)
	}
	if err := c.reps[r].Step(pp); err != nil {
		t.Fatalf("the primary's proposal refused: %v", err)
	}
	return pp
}
