package pbft_test

import (
	"fmt"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/ledger"
)

// fullChainApp is an Application whose pending chain is full while *full
// is set: Validate fails as ledger.PendingChain.Validate does when
// ledger.PendingChainBlocksMax blocks descend from the head.
// ValidateCommitted is the wrapped application's: a certified block makes
// room for itself (see TestCatchUpMakesRoomInFullPendingChain).
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
	pp := stepFirstProposal(t, c, 1)
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

// fillWithDeadForks fills replica i's real pending chain with
// ledger.PendingChainBlocksMax valid blocks at height 1 that no honest
// primary proposes (validator 1's, at later timestamps), as Byzantine
// primaries of many views that never committed could leave it.
func fillWithDeadForks(t *testing.T, c *cluster, i int) {
	t.Helper()
	proposer := c.vals.At(1).Address()
	for k := range ledger.PendingChainBlocksMax {
		ts := c.genesis.Header.Timestamp + 1_000_000 + int64(k)
		if _, err := c.chains[i].Build(c.heads[i].Hash(), uint64(k+1), proposer, ts, nil); err != nil {
			t.Fatalf("dead fork %d: %v", k, err)
		}
	}
	if got := c.chains[i].Len(); got != ledger.PendingChainBlocksMax {
		t.Fatalf("fixture: %d pending blocks, want %d", got, ledger.PendingChainBlocksMax)
	}
}

// TestCatchUpMakesRoomInFullPendingChain checks the way out for a replica
// whose pending chain is full of blocks on forks the network abandoned,
// none of them the block the network commits at height 1: no commit of
// its own can prune them, but the certified block that catch-up fetches
// makes room for itself (Application.ValidateCommitted), and the replica
// then validates, votes and commits in the normal case again. Method:
// replica 3's real pending chain is filled with PendingChainBlocksMax
// siblings at height 1; the others commit past a stable checkpoint; the
// test serves replica 3's EventCatchUp as the node's block sync would.
func TestCatchUpMakesRoomInFullPendingChain(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.manualCatchUp = true
	fillWithDeadForks(t, c, 3)
	var sent []*pbft.Message
	c.outgoing[3] = func(o pbft.Outbound) []pbft.Outbound {
		sent = append(sent, o.Msg)
		return []pbft.Outbound{o}
	}
	c.tickUntil(20, c.allCommitted(5, 0, 1, 2))
	if len(c.logs[3]) != 0 {
		t.Fatalf("fixture: replica 3 committed %d blocks with no room to validate them", len(c.logs[3]))
	}
	if !hasEvent(c.events[3], func(e pbft.EventCatchUp) bool { return e.FromHeight == 1 }) {
		t.Fatalf("replica 3 never asked to catch up from height 1: events %+v", c.events[3])
	}

	sent = nil
	caughtUp := uint64(len(c.logs[0]))
	for _, cb := range c.logs[0] {
		if err := c.reps[3].DeliverCommitted(cb.Block, cb.Certificate); err != nil {
			t.Fatalf("DeliverCommitted(%d) into a pending chain full of dead forks = %v", cb.Block.Header.Height, err)
		}
		c.flush(3)
	}
	if n := c.chains[3].Len(); n >= ledger.PendingChainBlocksMax/2 {
		t.Errorf("%d blocks still pending after catch-up: the dead forks were kept", n)
	}
	for h := uint64(1); h <= caughtUp; h++ {
		if got, want := c.committedAt(3, h), c.committedAt(0, h); got == nil || got.Block.Hash() != want.Block.Hash() {
			t.Fatalf("replica 3 committed %+v at height %d, want %s", got, h, want.Block.Hash().Short())
		}
	}

	c.tickUntil(20, c.allCommitted(caughtUp+3, 0, 1, 2, 3))
	voted := false
	for _, m := range sent {
		voted = voted || (m.Kind == pbft.KindCommit && m.Height > caughtUp)
	}
	if !voted {
		t.Errorf("replica 3 sent no COMMIT above height %d after catching up: not back in the normal case", caughtUp)
	}
	checkNoBlame(t, c, 3)
}

// TestRoomWaitAfterCatchUpIsRetried checks that a height waiting for room
// is asked again at the next tick even when a lower height waited before
// and was since settled another way: replica 1's pending chain is full at
// height 1, the others commit past a stable checkpoint (which drops the
// slot of height 1 here), catch-up brings replica 1 the blocks up to the
// checkpoint, and the block above it, whose votes it all holds, then
// finds no room either. Once room is made, one tick must commit it with
// no further message: the retry starts at the lowest height still
// waiting, not at height 1, which the replica committed long ago.
func TestRoomWaitAfterCatchUpIsRetried(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.manualCatchUp = true
	full := true
	withFullChain(c, 1, &full)
	const checkpoint = 4 // clusterOpts' default CheckpointInterval
	for range checkpoint + 1 {
		c.tickOne(0)
	}
	if !c.allCommitted(checkpoint+1, 0, 2, 3)() || len(c.logs[1]) != 0 {
		t.Fatalf("fixture: committed %d/%d/%d/%d blocks, want %d on 0, 2, 3 and none on 1",
			len(c.logs[0]), len(c.logs[1]), len(c.logs[2]), len(c.logs[3]), checkpoint+1)
	}
	if low := c.reps[1].LowWatermark(); low != checkpoint {
		t.Fatalf("fixture: replica 1's low watermark %d, want %d", low, checkpoint)
	}
	for _, cb := range c.logs[0][:checkpoint] {
		if err := c.reps[1].DeliverCommitted(cb.Block, cb.Certificate); err != nil {
			t.Fatalf("DeliverCommitted(%d): %v", cb.Block.Header.Height, err)
		}
		c.flush(1)
	}
	if len(c.logs[1]) != checkpoint {
		t.Fatalf("fixture: replica 1 committed %d blocks by catch-up, want %d", len(c.logs[1]), checkpoint)
	}
	c.queue = nil

	full = false
	c.tickOne(1)
	want := c.committedAt(0, checkpoint+1)
	if got := c.committedAt(1, checkpoint+1); got == nil || got.Block.Hash() != want.Block.Hash() {
		t.Fatalf("replica 1 committed %+v at height %d after room was made, want %s: the height waiting for room was never asked again",
			got, checkpoint+1, want.Block.Hash().Short())
	}
	checkNoBlame(t, c, 1)
}

// TestNewViewClearsDeadForksOnEveryReplica checks the way out when every
// replica's pending chain is full of blocks on forks no view will commit:
// no primary can build and no replica can validate, so no certificate can
// form and catch-up has nothing to fetch. The view change that the idle
// replicas start must clear them: installing a NEW-VIEW drops every
// pending block it does not re-propose (Application.Retain), and the
// network commits again, in a later view, with no replica blamed for a
// block it never got to see. Method: all four real pending chains filled
// with PendingChainBlocksMax siblings at height 1 before the first tick.
func TestNewViewClearsDeadForksOnEveryReplica(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	for i := range c.n {
		fillWithDeadForks(t, c, i)
	}
	c.tickUntil(200, c.allCommitted(3, 0, 1, 2, 3))
	for i := range c.n {
		if v, active := c.reps[i].View(); v == 0 || !active {
			t.Errorf("replica %d in view %d (active %v), want a later active view: the full chains stopped view 0", i, v, active)
		}
		if n := c.chains[i].Len(); n >= ledger.PendingChainBlocksMax/2 {
			t.Errorf("replica %d keeps %d pending blocks: the dead forks were not dropped", i, n)
		}
		if cb := c.committedAt(i, 1); cb.Certificate.View == 0 {
			t.Errorf("replica %d committed height 1 in view 0, which could not build it", i)
		}
		if ev := c.reps[i].Evidence(); len(ev) != 0 {
			t.Errorf("replica %d keeps evidence %+v", i, ev)
		}
	}
}
