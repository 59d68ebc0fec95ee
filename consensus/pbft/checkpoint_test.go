package pbft_test

import (
	"fmt"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/ledger"
)

// TestPaperCheckpointsBoundMemory checks §4.3: over 2,000 heights checkpoints become stable every K heights, the low watermark follows, and every in-memory log structure stays within a bound independent of the chain's length.
func TestPaperCheckpointsBoundMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 heights")
	}
	c := newCluster(t, clusterOpts{n: 4})
	const w = 8
	for c.committedLen(0) < 2000 {
		c.tick()
		for i, r := range c.reps {
			slots, blocks, sent, future := r.LogSizes()
			if slots > w+1 || blocks > 4*w || sent > 3*w || future > 4*w*4 {
				t.Fatalf("replica %d at height %d: slots %d blocks %d sent %d future %d exceed the bound", i, c.committedLen(i), slots, blocks, sent, future)
			}
			if low := r.LowWatermark(); uint64(c.committedLen(i)) > low+w+1 {
				t.Fatalf("replica %d committed %d with low watermark %d", i, c.committedLen(i), low)
			}
		}
		if len(c.records[0]) > 1000 {
			c.records[0] = pbft.CompactRecords(c.records[0])
		}
		if len(c.queue) > 0 {
			t.Fatal("undelivered messages")
		}
	}
	if n := len(pbft.CompactRecords(c.records[0])); n > 4*w {
		t.Fatalf("compacted records %d exceed %d", n, 4*w)
	}
	if !hasEvent(c.events[2], func(e pbft.EventCheckpointStable) bool { return e.Height == 1996 }) {
		t.Fatal("no stable checkpoint at 1996")
	}
}

func (c *cluster) committedLen(i int) int { return len(c.logs[i]) }

// TestCatchUpFromCheckpoints checks the catch-up hook: a replica cut off for 40 heights sees CHECKPOINTs beyond its window, asks for the blocks, refuses a tampered certificate, accepts verified ones and rejoins the same chain.
func TestCatchUpFromCheckpoints(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.manualCatchUp = true
	c.drop = func(e envelope) bool { return e.to == 3 || e.from == 3 }
	c.tickUntil(200, c.allCommitted(40, 0, 1, 2))
	c.drop = nil
	c.tickUntil(50, func() bool {
		return hasEvent(c.events[3], func(e pbft.EventCatchUp) bool { return e.ToHeight >= 40 })
	})
	var req pbft.EventCatchUp
	for _, e := range c.events[3] {
		if cu, ok := e.(pbft.EventCatchUp); ok {
			req = cu
		}
	}
	// f+1 peers' CHECKPOINTs beyond the window are enough to ask: one of
	// them is correct, and every block comes with its own certificate.
	if req.FromHeight != 1 || len(req.Peers) < c.vals.F()+1 {
		t.Fatalf("catch-up request %+v, want from height 1 with f+1 peers", req)
	}
	first := c.committedAt(0, 1)
	bad := *first.Certificate
	bad.Signatures = append([]ledger.CommitSignature(nil), bad.Signatures...)
	bad.Signatures[0].Signature[0] ^= 1
	if err := c.reps[3].DeliverCommitted(first.Block, &bad); err == nil {
		t.Fatal("a block with a tampered certificate was accepted")
	}
	for h := uint64(1); h <= req.ToHeight; h++ {
		cb := c.committedAt(0, h)
		if err := c.reps[3].DeliverCommitted(cb.Block, cb.Certificate); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		c.flush(3)
	}
	c.manualCatchUp = false
	target := uint64(c.committedLen(0) + 10)
	c.tickUntil(300, c.allCommitted(target, 0, 1, 2, 3))
	for h := uint64(1); h <= target; h++ {
		if c.committedAt(3, h).Block.Hash() != c.committedAt(0, h).Block.Hash() {
			t.Fatalf("height %d differs after catch-up", h)
		}
	}
}

// TestLaggingReplicaDoesNotViewChangeAlone: a replica that learns from
// stable checkpoints that the network is ahead restarts its idle timer,
// so while it waits for catch-up it does not give up on a live primary
// and move to the next view on its own (where it would be out of the
// quorum until the others change view too).
func TestLaggingReplicaDoesNotViewChangeAlone(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, timeoutT: 12})
	c.manualCatchUp = true // catch-up never delivers: the replica stays behind
	c.down[3] = true       // stopped, as a restarting node is: no ticks
	c.tickUntil(200, c.allCommitted(20, 0, 1, 2))
	c.down[3] = false
	for range 60 { // five timeouts; checkpoints come every few ticks
		c.tick()
	}
	if v, _ := c.reps[3].View(); v != 0 {
		t.Fatalf("lagging replica moved to view %d alone while the others commit in view 0", v)
	}
	if !hasEvent(c.events[3], func(e pbft.EventCatchUp) bool { return e.ToHeight >= 20 }) {
		t.Fatal("lagging replica never asked to catch up")
	}
	for i := range 3 {
		if v, _ := c.reps[i].View(); v != 0 {
			t.Fatalf("replica %d changed view to %d", i, v)
		}
	}
}

// TestLaggingReplicaCatchesUpWhenFaultyPeerWithholds: a replica that was
// stopped while the others committed must catch up even if one faulty
// replica (f = 1) sends it nothing. Its own CHECKPOINT is the one missing
// from every quorum, so stable checkpoints alone never tell it the network
// is ahead; f+1 peers' CHECKPOINTs beyond its window must.
func TestLaggingReplicaCatchesUpWhenFaultyPeerWithholds(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, timeoutT: 12})
	c.down[3] = true
	c.tickUntil(200, c.allCommitted(20, 0, 1, 2))
	c.down[3] = false
	c.drop = func(e envelope) bool { return e.from == 0 && e.to == 3 } // replica 0 withholds everything from 3
	target := uint64(c.committedLen(1) + 10)
	c.tickUntil(300, c.allCommitted(target, 1, 2, 3))
	for h := uint64(1); h <= target; h++ {
		if c.committedAt(3, h).Block.Hash() != c.committedAt(1, h).Block.Hash() {
			t.Fatalf("height %d differs after catch-up", h)
		}
	}
}

// TestLostCheckpointsAreSentAgain checks that a network whose CHECKPOINTs
// were all lost does not stand still once its window is full: with no
// stable checkpoint the primary may not propose above the window, so no
// height commits and no new CHECKPOINT is signed, and a view change
// carries only the old stable checkpoint. Each replica must send its own
// unstable CHECKPOINTs again (once per base timeout) until they turn
// stable. Method: every CHECKPOINT is dropped until the window (8 heights
// above genesis) has committed everywhere; then the network delivers
// everything, and it must commit past the window.
func TestLostCheckpointsAreSentAgain(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	lose := true
	c.drop = func(e envelope) bool { return lose && e.m.Kind == pbft.KindCheckpoint }
	const window = 8 // clusterOpts' default WindowHeights
	c.tickUntil(100, c.allCommitted(window, 0, 1, 2, 3))
	for i := range c.n {
		if low := c.reps[i].LowWatermark(); low != 0 {
			t.Fatalf("fixture: replica %d's low watermark is %d with every CHECKPOINT lost", i, low)
		}
	}
	c.tick()
	if n := len(c.logs[0]); n != window {
		t.Fatalf("fixture: replica 0 committed %d heights with no stable checkpoint, want %d (the window)", n, window)
	}
	lose = false
	c.tickUntil(100, c.allCommitted(window+4, 0, 1, 2, 3))
	for i := range c.n {
		if low := c.reps[i].LowWatermark(); low < window {
			t.Errorf("replica %d's low watermark is %d, want at least %d", i, low, window)
		}
	}
}

// TestLostCheckpointsAreSentAgainAfterRestarts checks the same way out as
// TestLostCheckpointsAreSentAgain when replicas restart while the window
// is full: a replica holds its own unstable CHECKPOINTs only in memory, so
// one that restarts has none to send again, and if fewer than a quorum
// are left to send theirs, no checkpoint turns stable and the network
// stands still for good. A restarted replica must sign the CHECKPOINT of
// the highest checkpoint height it committed again: its head when K
// divides W (the full window's top is a checkpoint height), the block at
// 8 below a head of 10 when W = 10 (Config.Checkpoint, read from the
// committed blocks as a node reads its store). Method: every CHECKPOINT
// is dropped until the window (W heights above genesis) has committed
// everywhere; replicas 2 and 3 crash and restart from their records and
// committed state; then the network delivers everything, and it must
// commit past the window.
func TestLostCheckpointsAreSentAgainAfterRestarts(t *testing.T) {
	for _, window := range []uint64{8, 10} {
		t.Run(fmt.Sprintf("W=%d", window), func(t *testing.T) {
			c := newCluster(t, clusterOpts{n: 4, k: 4, w: window})
			lose := true
			c.drop = func(e envelope) bool { return lose && e.m.Kind == pbft.KindCheckpoint }
			c.tickUntil(100, c.allCommitted(window, 0, 1, 2, 3))
			c.tick()
			for i := range c.n {
				if n, low := uint64(len(c.logs[i])), c.reps[i].LowWatermark(); n != window || low != 0 {
					t.Fatalf("fixture: replica %d committed %d heights with low watermark %d, want %d and 0", i, n, low, window)
				}
			}
			for _, i := range []int{2, 3} {
				c.crash(i)
				c.start(i, 10)
			}
			lose = false
			c.tickUntil(100, c.allCommitted(window+4, 0, 1, 2, 3))
			for i := range c.n {
				if low := c.reps[i].LowWatermark(); low < 8 {
					t.Errorf("replica %d's low watermark is %d, want at least 8", i, low)
				}
			}
		})
	}
}
