package pbft_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/ledger"
)

// fullChainApp is an Application whose pending chain is full while *full
// is set: Validate fails as ledger.PendingChain.Validate does when
// ledger.PendingChainBlocksMax blocks descend from the head.
type fullChainApp struct {
	pbft.Application
	full *bool
}

func (a fullChainApp) Validate(b *ledger.Block) error {
	if *a.full {
		return fmt.Errorf("validate block %d: %w: %d", b.Header.Height, ledger.ErrPendingChainFull, ledger.PendingChainBlocksMax)
	}
	return a.Application.Validate(b)
}

// withFullChain makes replica i's pending chain full while *full is set.
func withFullChain(c *cluster, i int, full *bool) {
	c.wrapApp = func(j int, app pbft.Application) pbft.Application {
		if j == i {
			return fullChainApp{app, full}
		}
		return app
	}
	c.start(i, 10)
}

// checkNoBlame checks that no replica keeps evidence and that replica i
// is still active in view 0.
func checkNoBlame(t *testing.T, c *cluster, i int) {
	t.Helper()
	for j := range c.n {
		if ev := c.reps[j].Evidence(); len(ev) != 0 {
			t.Errorf("replica %d keeps evidence %+v", j, ev)
		}
	}
	if v, active := c.reps[i].View(); v != 0 || !active {
		t.Errorf("replica %d in view %d (active %v), want view 0: its own full pending chain is no reason to change view", i, v, active)
	}
}

// TestFullPendingChainWaitsWithoutBlamingThePrimary checks that a replica
// whose pending chain has no room for an honest primary's proposal
// neither votes for it nor blames the primary (no evidence, no view
// change) nor halts, and that it validates, votes for and commits the
// block once its application has room again, at its next tick, with no
// further message. Method: the primary proposes, replica 1 (full) steps
// the PRE-PREPARE by hand, the others commit, then room is made.
func TestFullPendingChainWaitsWithoutBlamingThePrimary(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	full := true
	withFullChain(c, 1, &full)
	var sent []*pbft.Message
	c.outgoing[1] = func(o pbft.Outbound) []pbft.Outbound {
		sent = append(sent, o.Msg)
		return []pbft.Outbound{o}
	}
	c.reps[0].Tick(c.genesis.Header.Timestamp + 10)
	c.flush(0)
	var pp *pbft.Message
	for _, e := range c.queue {
		if e.to == 1 && e.m.Kind == pbft.KindPrePrepare {
			pp = e.m
		}
	}
	if pp == nil {
		t.Fatal("the primary proposed nothing to replica 1")
	}
	if err := c.reps[1].Step(pp); err != nil {
		t.Fatalf("the primary's proposal refused: %v", err)
	}
	if rd := c.reps[1].Ready(); !rd.IsEmpty() {
		t.Errorf("replica 1 with a full pending chain answered the proposal with %+v, want nothing", rd)
	}
	c.reps[1].Advance()
	checkNoBlame(t, c, 1)

	c.deliver()
	c.tickUntil(3, c.allCommitted(1, 0, 2, 3))
	if len(c.logs[1]) != 0 {
		t.Fatalf("replica 1 committed %d blocks with no room to validate them", len(c.logs[1]))
	}
	for _, m := range sent {
		t.Errorf("replica 1 sent %s with no room to validate the block", m)
	}
	for _, e := range c.events[1] {
		t.Errorf("replica 1 reported %T %+v for its own full pending chain", e, e)
	}
	checkNoBlame(t, c, 1)

	full = false
	c.tickOne(1)
	cb := c.committedAt(1, 1)
	if cb == nil || cb.Block.Hash() != pp.Digest || cb.Certificate.View != 0 {
		t.Fatalf("replica 1 committed %+v at height 1 after room was made, want the primary's %s in view 0", cb, pp.Digest.Short())
	}
	voted := false
	for _, m := range sent {
		voted = voted || (m.Kind == pbft.KindPrepare && m.Height == 1 && m.Digest == pp.Digest)
	}
	if !voted {
		t.Error("replica 1 never sent a PREPARE for the block once it had room")
	}
	checkNoBlame(t, c, 1)
}

// TestFullPendingChainInCatchUpRefusesWithoutHalting checks that a
// certified block fetched by catch-up that the application has no room
// for is refused with ledger.ErrPendingChainFull, without halting or
// evidence, and is committed when delivered again after room is made.
func TestFullPendingChainInCatchUpRefusesWithoutHalting(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.down[3] = true
	c.tickUntil(50, c.allCommitted(1, 0, 1, 2))
	full := true
	withFullChain(c, 3, &full)
	cb := c.committedAt(0, 1)
	if err := c.reps[3].DeliverCommitted(cb.Block, cb.Certificate); !errors.Is(err, ledger.ErrPendingChainFull) {
		t.Fatalf("DeliverCommitted = %v, want the full pending chain", err)
	}
	if rd := c.reps[3].Ready(); rd.Fault != nil || len(rd.Events) != 0 {
		t.Errorf("full pending chain in catch-up: Ready.Fault = %v, events %+v; want neither", rd.Fault, rd.Events)
	}
	c.reps[3].Advance()
	checkNoBlame(t, c, 3)

	full = false
	if err := c.reps[3].DeliverCommitted(cb.Block, cb.Certificate); err != nil {
		t.Fatalf("DeliverCommitted after room was made = %v", err)
	}
	c.flush(3)
	if got := c.committedAt(3, 1); got == nil || got.Block.Hash() != cb.Block.Hash() {
		t.Errorf("replica 3 committed %+v at height 1, want %s", got, cb.Block.Hash().Short())
	}
}
