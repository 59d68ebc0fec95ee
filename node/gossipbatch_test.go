package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/synod-chain/synod/ledger"
)

type publishLog struct {
	mu     sync.Mutex
	groups []int
	txs    int
}

func (p *publishLog) publish(txs []*ledger.Tx) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.groups = append(p.groups, len(txs))
	p.txs += len(txs)
}

func (p *publishLog) snapshot() ([]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.groups...), p.txs
}

func waitPublished(t *testing.T, p *publishLog, txs int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		groups, n := p.snapshot()
		if n == txs {
			return groups
		}
		if n > txs || time.Now().After(deadline) {
			t.Fatalf("published %d txs in %v, want %d", n, groups, txs)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGossipBatcherGroupsTxs: txs added within the linger go out in one
// message; shutdown publishes what is left.
func TestGossipBatcherGroupsTxs(t *testing.T) {
	var p publishLog
	g := newGossipBatcher(p.publish, func() int { return 0 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.run(ctx); close(done) }()

	for range 5 {
		g.add([]*ledger.Tx{{}, {}}) // well inside the linger
	}
	if groups := waitPublished(t, &p, 10); len(groups) != 1 {
		t.Fatalf("10 txs added together went out as %v", groups)
	}

	cancel()
	<-done
	g.add([]*ledger.Tx{{}}) // after run returned: stays pending
	g.flush()
	waitPublished(t, &p, 11)
}

// TestGossipBatcherFullBatchDoesNotLinger: a full batch goes out without
// waiting for the linger, which is an hour here, so only the full-batch
// signal can publish the txs before the test's deadline; txs short of a
// batch stay.
func TestGossipBatcherFullBatchDoesNotLinger(t *testing.T) {
	var p publishLog
	g := newGossipBatcher(p.publish, func() int { return 0 })
	g.linger = func(int) time.Duration { return time.Hour }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.run(ctx)
	g.add(make([]*ledger.Tx, gossipFlushTxs-1))
	g.add([]*ledger.Tx{{}})
	if groups := waitPublished(t, &p, gossipFlushTxs); len(groups) != 1 {
		t.Fatalf("a full batch went out as %v", groups)
	}
	g.add([]*ledger.Tx{{}, {}})
	time.Sleep(50 * time.Millisecond)
	if groups, n := p.snapshot(); n != gossipFlushTxs {
		t.Fatalf("2 txs short of a batch went out before the linger: %v", groups)
	}
}

// TestGossipLinger: the linger starts at its minimum with an empty pool,
// grows with the pending txs and stops at its maximum.
func TestGossipLinger(t *testing.T) {
	for _, c := range []struct {
		pending int
		want    time.Duration
	}{
		{-1, gossipLingerMin},
		{0, gossipLingerMin},
		{1, gossipLingerMin + gossipLingerPerPendingTx},
		{1000, gossipLingerMin + 1000*gossipLingerPerPendingTx},
		{1 << 40, gossipLingerMax},
	} {
		if got := gossipLinger(c.pending); got != c.want {
			t.Errorf("gossipLinger(%d) = %v, want %v", c.pending, got, c.want)
		}
	}
	if gossipLinger(1000) != 75*time.Millisecond {
		t.Errorf("a pool of 1,000 lingers %v, the 75 ms measured", gossipLinger(1000))
	}
	prev := time.Duration(0)
	for pending := 0; pending <= 4000; pending += 7 {
		got := gossipLinger(pending)
		if got < prev || got < gossipLingerMin || got > gossipLingerMax {
			t.Fatalf("gossipLinger(%d) = %v after %v", pending, got, prev)
		}
		prev = got
	}
}

// TestGossipBatcherLingersLongerWhenBusy: with a full pool the batcher
// holds txs for the longest linger (a timer never fires early, so the
// lower bound holds on any machine).
func TestGossipBatcherLingersLongerWhenBusy(t *testing.T) {
	var p publishLog
	g := newGossipBatcher(p.publish, func() int { return 1 << 20 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.run(ctx)
	start := time.Now()
	g.add([]*ledger.Tx{{}, {}})
	waitPublished(t, &p, 2)
	if waited := time.Since(start); waited < gossipLingerMax {
		t.Fatalf("published after %v with a full pool, want at least %v", waited, gossipLingerMax)
	}
}
