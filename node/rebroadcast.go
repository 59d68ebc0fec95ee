package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/synod-chain/synod/ledger"
)

// Re-gossip of pending txs.
const (
	// rebroadcastInterval: a pending tx is gossiped again once it has gone
	// this long without being gossiped, unless the pool holds a backlog
	// (rebroadcastWait). The pool is asked every rebroadcastTick, so a tx
	// is first due between one wait and one wait plus a tick after it
	// arrived (see Mempool.ForRebroadcast).
	rebroadcastInterval = 2 * time.Second
	rebroadcastTick     = time.Second
	// rebroadcastWaitMax bounds the wait a backlog stretches it to.
	rebroadcastWaitMax = time.Minute
	// rebroadcastTxsPerTick bounds the txs gossiped again per tick (the
	// pool's RebroadcastTxsMax): 500 a second, as 1,000 every 2 s before.
	rebroadcastTxsPerTick = 500
	// rebroadcastRateWeight is the weight of the last tick in the
	// smoothed drain rate; a tick without commits leaves it as it was.
	rebroadcastRateWeight = 0.5
)

// queuedTxLifetime is how long a tx may wait behind a nonce gap (its
// sender's earlier nonce never arrived) before the mempool drops it. A
// wallet's out-of-order submissions fill their gaps within seconds; a tx
// whose gap never fills would otherwise hold its sender's slots in every
// pool and be re-gossiped every rebroadcastInterval, forever.
const queuedTxLifetime = 10 * time.Minute

// rebroadcastWait is how long a pending tx may go without being gossiped
// before it is gossiped again, with pooled txs pending and blocks taking
// drainPerSec of them a second: the base interval, or twice the time the
// pool takes to drain, whichever is longer (at most rebroadcastWaitMax).
//
// Re-gossip repairs lost gossip; it cannot speed a tx that waits in a
// backlog, and every node holding a tx sends it again. With a fixed
// interval a backlog longer than it made every node re-gossip its whole
// pool: at 7 validators and 3,500 tx/s a stalled start left 20,000 txs
// pending and node1 gossiped 1,500 of them again each second, seven
// nodes together three times the wallets' rate, and the network never
// caught up (1,578 tx/s committed, p99 18 s). A tx that has waited twice
// as long as the backlog explains is worth sending again. Before any
// commit the base interval applies, and the per-tick bound limits what
// it costs.
func rebroadcastWait(pooled int, drainPerSec float64) time.Duration {
	if pooled <= 0 || drainPerSec <= 0 {
		return rebroadcastInterval
	}
	drain := float64(pooled) / drainPerSec // seconds
	if drain >= rebroadcastWaitMax.Seconds()/2 {
		return rebroadcastWaitMax
	}
	return max(rebroadcastInterval, time.Duration(2*drain*float64(time.Second)))
}

// rebroadcastPool is the mempool as the rebroadcaster uses it.
type rebroadcastPool interface {
	ForRebroadcast(now, interval int64) []*ledger.Tx
	ExpireQueued(now, lifetime int64) []*ledger.Tx
	Size() (txs, bytes int)
}

// rebroadcaster re-gossips pending txs that are not yet committed: gossip
// is best-effort, and a tx an honest node accepted must not be silently
// lost. It also expires the txs stuck behind a nonce gap
// (queuedTxLifetime). Time comes in through tick, so tests drive it.
type rebroadcaster struct {
	pool      rebroadcastPool
	committed func() uint64 // txs committed so far
	publish   func([]*ledger.Tx)
	log       *slog.Logger

	last          time.Time // the previous tick; zero before the first
	lastCommitted uint64
	drainPerSec   float64 // smoothed txs committed a second; 0 before any
}

func newRebroadcaster(pool rebroadcastPool, committed func() uint64, publish func([]*ledger.Tx), log *slog.Logger) *rebroadcaster {
	return &rebroadcaster{pool: pool, committed: committed, publish: publish, log: log}
}

// run ticks every rebroadcastTick until ctx ends.
func (r *rebroadcaster) run(ctx context.Context) {
	t := time.NewTicker(rebroadcastTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.tick(now)
		}
	}
}

// tick updates the drain rate, expires stuck txs and publishes the txs
// due again; it returns how many it published.
func (r *rebroadcaster) tick(now time.Time) int {
	committed := r.committed()
	if dt := now.Sub(r.last).Seconds(); !r.last.IsZero() && dt > 0 {
		rate := float64(committed-r.lastCommitted) / dt
		switch {
		case rate == 0:
			// Idle or stalled: the last rate stands. Decayed towards 0 it
			// would call any pool a backlog; held, a stall behind a
			// backlog keeps the long wait, and an idle chain's small pool
			// (a lost tx) keeps the base interval.
		case r.drainPerSec == 0:
			r.drainPerSec = rate
		default:
			r.drainPerSec += rebroadcastRateWeight * (rate - r.drainPerSec)
		}
	}
	if dt := now.Sub(r.last); r.last.IsZero() || dt > 0 {
		r.last, r.lastCommitted = now, committed
	}
	if expired := r.pool.ExpireQueued(now.UnixMilli(), queuedTxLifetime.Milliseconds()); len(expired) > 0 {
		r.log.Info("mempool: dropped txs stuck behind a nonce gap", "txs", len(expired), "waited", queuedTxLifetime)
	}
	pooled, _ := r.pool.Size()
	txs := r.pool.ForRebroadcast(now.UnixMilli(), rebroadcastWait(pooled, r.drainPerSec).Milliseconds())
	if len(txs) > 0 {
		r.publish(txs)
	}
	return len(txs)
}
