package pbft_test

import (
	"testing"
)

// TestIdlePrimaryProposesEveryEmptyBlockTicks checks idle block production:
// while the application reports no waiting txs, the primary proposes once
// every EmptyBlockTicks ticks (the chain advances slowly instead of one
// block per tick, and no view change happens); once txs wait, it proposes
// on the next tick.
func TestIdlePrimaryProposesEveryEmptyBlockTicks(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, timeoutT: 20})
	idle := true
	c.emptyBlockTicks = 5
	c.idle = func() bool { return idle }
	for i := range c.n {
		c.start(i, 20)
	}
	for range 50 {
		c.tick()
	}
	if got := len(c.logs[0]); got < 8 || got > 11 {
		t.Fatalf("idle: %d blocks committed in 50 ticks, want about 50/5", got)
	}
	if v, _ := c.reps[0].View(); v != 0 {
		t.Fatalf("idle chain changed view to %d", v)
	}
	idle = false
	before := len(c.logs[0])
	for range 5 {
		c.tick()
	}
	if got := len(c.logs[0]) - before; got < 4 {
		t.Fatalf("busy: %d blocks in 5 ticks, want one per tick", got)
	}
}

// TestProposeNowOnlyWithNothingInFlight: between ticks, ProposeNow makes
// the primary pre-prepare only when none of its proposals is in flight,
// and a backup never; the block then commits without another tick.
func TestProposeNowOnlyWithNothingInFlight(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, timeoutT: 20})
	idle := true
	c.emptyBlockTicks = 15 // no empty block within this test's one tick
	c.idle = func() bool { return idle }
	for i := range c.n {
		c.start(i, 20)
	}
	c.tick()
	if got := len(c.logs[0]); got != 0 {
		t.Fatalf("idle primary proposed: %d blocks", got)
	}
	idle = false
	c.reps[1].ProposeNow(c.genesis.Header.Timestamp + c.now) // a backup
	c.flush(1)
	if len(c.queue) != 0 {
		t.Fatalf("a backup's ProposeNow sent %d messages", len(c.queue))
	}
	c.reps[0].ProposeNow(c.genesis.Header.Timestamp + c.now)
	c.flush(0)
	sentAfterFirst := len(c.queue)
	if sentAfterFirst == 0 {
		t.Fatal("the primary with nothing in flight did not propose")
	}
	c.reps[0].ProposeNow(c.genesis.Header.Timestamp + c.now) // height 1 in flight
	c.flush(0)
	if len(c.queue) != sentAfterFirst {
		t.Fatal("ProposeNow proposed again with a proposal in flight")
	}
	c.deliver()
	for i := range c.n {
		if got := len(c.logs[i]); got != 1 {
			t.Fatalf("replica %d committed %d blocks without a tick, want 1", i, got)
		}
	}
	c.reps[0].ProposeNow(c.genesis.Header.Timestamp + c.now) // committed: room again
	c.flush(0)
	if len(c.queue) == 0 {
		t.Fatal("after its block committed, ProposeNow did not propose")
	}
}
