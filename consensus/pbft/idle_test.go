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
