package node

import (
	"context"
	"sync"
	"time"

	"github.com/synod-chain/synod/ledger"
)

// Gossip batching of wallet txs.
const (
	// gossipLingerMin is how long accepted txs wait for company before
	// they are gossiped when the pool is nearly empty. Every gossip
	// message costs each peer a stream write, a decode, a signature batch
	// and a forward, whatever its size, and a signature batch costs less
	// per signature the larger it is. At 8,000 tx/s on four nodes, 25 ms
	// makes messages of about fifty txs: from 5 ms to 25 ms took the
	// sustained rate from about 7,200 to 8,000 tx/s (p99 2.5 s to 0.76 s),
	// and p50 at 1,000 tx/s from 14 to 20 ms.
	gossipLingerMin = 25 * time.Millisecond
	// gossipLingerPerPendingTx and gossipLingerMax stretch the linger
	// with the txs pending in the pool, the product of the rate and the
	// time a tx waits for its block: a node takes 1/n of the wallets'
	// txs, so with seven validators a 25-ms message holds a handful, and
	// the fixed cost per message dominates just when the processor is
	// short. A pool of 1,000 txs (7 validators at 2,500 tx/s) lingers
	// 75 ms, while a nearly empty pool keeps the 25 ms that p50 at low
	// rates needs. Three alternating pairs at 7 x 3,000 tx/s, p99 against
	// a fixed 25 ms: 1,741 / 1,072 / 492 ms against 1,864 / 2,179 / 1,232;
	// at 4 x 1,000 p50 stayed 27-30 ms.
	gossipLingerPerPendingTx = 50 * time.Microsecond
	gossipLingerMax          = 100 * time.Millisecond
	// gossipFlushTxs publishes at once when this many txs wait.
	gossipFlushTxs = 512
)

// gossipLinger is how long txs wait for company with pending txs in the
// pool.
func gossipLinger(pending int) time.Duration {
	stretch := gossipLingerMax - gossipLingerMin
	if pending <= 0 {
		return gossipLingerMin
	}
	if pending >= int(stretch/gossipLingerPerPendingTx) {
		return gossipLingerMax
	}
	return gossipLingerMin + time.Duration(pending)*gossipLingerPerPendingTx
}

// gossipBatcher collects txs to gossip and publishes them together, at
// most gossipLinger(poolTxs()) after the first of them arrived. add never
// blocks on the network: the publisher runs on its own goroutine.
type gossipBatcher struct {
	publish func([]*ledger.Tx)
	poolTxs func() int // txs pending in the mempool
	// linger is gossipLinger; a test sets another before run starts.
	linger func(pending int) time.Duration

	mu      sync.Mutex
	pending []*ledger.Tx
	wake    chan struct{} // 1-buffered: txs are pending
	full    chan struct{} // 1-buffered: gossipFlushTxs are pending
}

func newGossipBatcher(publish func([]*ledger.Tx), poolTxs func() int) *gossipBatcher {
	return &gossipBatcher{publish: publish, poolTxs: poolTxs, linger: gossipLinger, wake: make(chan struct{}, 1), full: make(chan struct{}, 1)}
}

// add queues txs for the next gossip message. The queue is bounded by
// what the ingress admits: every tx here is in the mempool.
func (g *gossipBatcher) add(txs []*ledger.Tx) {
	g.mu.Lock()
	g.pending = append(g.pending, txs...)
	n := len(g.pending)
	g.mu.Unlock()
	signal(g.wake)
	if n >= gossipFlushTxs {
		signal(g.full)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run publishes until ctx ends, then publishes what is left.
func (g *gossipBatcher) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			g.flush()
			return
		case <-g.wake:
		}
		timer.Reset(g.linger(g.poolTxs()))
		select {
		case <-ctx.Done():
		case <-timer.C:
		case <-g.full:
		}
		timer.Stop()
		g.flush()
	}
}

func (g *gossipBatcher) flush() {
	g.mu.Lock()
	txs := g.pending
	g.pending = nil
	g.mu.Unlock()
	select {
	case <-g.full: // consumed by this flush
	default:
	}
	if len(txs) > 0 {
		g.publish(txs)
	}
}
