package node

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/synod-chain/synod/ledger"
)

// TestRebroadcastWait: the base interval for a small pool or no measured
// commits; twice the drain time for a backlog; never more than the cap.
func TestRebroadcastWait(t *testing.T) {
	for _, c := range []struct {
		pooled int
		drain  float64
		want   time.Duration
	}{
		{0, 0, rebroadcastInterval},
		{20_000, 0, rebroadcastInterval},        // nothing committed: a stall or the start
		{500, 3_500, rebroadcastInterval},       // 0.14 s of backlog
		{3_500, 3_500, rebroadcastInterval},     // 1 s: twice is the base
		{7_000, 3_500, 4 * time.Second},         // 2 s
		{20_000, 1_600, 25 * time.Second},       // 12.5 s
		{1_000_000, 1_000, rebroadcastWaitMax},  // beyond the cap
		{1_000_000, 1e-300, rebroadcastWaitMax}, // no overflow
		{-1, 1_000, rebroadcastInterval},
	} {
		if got := rebroadcastWait(c.pooled, c.drain); got != c.want {
			t.Errorf("rebroadcastWait(%d, %g) = %v, want %v", c.pooled, c.drain, got, c.want)
		}
	}
}

// fakeRebroadcastPool records the intervals it is asked with.
type fakeRebroadcastPool struct {
	pooled    int
	intervals []int64
	due       []*ledger.Tx
}

func (p *fakeRebroadcastPool) ForRebroadcast(_, interval int64) []*ledger.Tx {
	p.intervals = append(p.intervals, interval)
	return p.due
}
func (p *fakeRebroadcastPool) ExpireQueued(int64, int64) []*ledger.Tx { return nil }
func (p *fakeRebroadcastPool) Size() (int, int)                       { return p.pooled, 0 }

// TestRebroadcasterStretchesWithBacklog drives the rebroadcaster's clock:
// it measures how fast blocks take txs, asks the pool with twice the
// drain time once a backlog builds. A tick without commits (a stall, an
// idle chain) keeps the last rate: a stall behind a backlog keeps the
// long wait, and a small pool (a tx the primary lost on an idle chain)
// gets the base interval.
func TestRebroadcasterStretchesWithBacklog(t *testing.T) {
	pool := &fakeRebroadcastPool{pooled: 100, due: []*ledger.Tx{{}, {}}}
	var committed uint64
	published := 0
	r := newRebroadcaster(pool, func() uint64 { return committed }, func(txs []*ledger.Tx) { published += len(txs) },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	t0 := time.Unix(1_000_000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	if n := r.tick(at(0)); n != 2 || published != 2 {
		t.Fatalf("first tick published %d (%d in all), want the 2 due", n, published)
	}
	pool.pooled = 30_000
	committed += 2_000 // 2,000 a second, the first rate measured
	r.tick(at(1))
	committed += 4_000 // 4,000: smoothed to 3,000
	r.tick(at(2))
	r.tick(at(2)) // no time passed: no rate from it
	pool.pooled = 3_000
	committed += 2_000 // 2,000: smoothed to 2,500
	r.tick(at(3))
	pool.pooled = 30_000
	r.tick(at(4)) // a stall behind a backlog: 2,500/s still
	pool.pooled = 1
	r.tick(at(5)) // idle, one tx left
	committed += 1_000
	pool.pooled = 3_000
	r.tick(at(6)) // 1,000: smoothed to 1,750
	want := []int64{
		rebroadcastInterval.Milliseconds(), // nothing measured yet
		30_000,                             // 30,000 pooled at 2,000/s: 15 s, twice
		20_000,                             // 30,000 at 3,000/s: 10 s, twice
		20_000,                             // the same instant again
		2_400,                              // 3,000 at 2,500/s: 1.2 s, twice
		24_000,                             // 30,000 at 2,500/s: 12 s, twice
		rebroadcastInterval.Milliseconds(), // 1 at 2,500/s
		3_428,                              // 3,000 at 1,750/s: 1.71 s, twice
	}
	if len(pool.intervals) != len(want) {
		t.Fatalf("%d ticks asked the pool, want %d", len(pool.intervals), len(want))
	}
	for i, w := range want {
		if pool.intervals[i] != w {
			t.Errorf("tick %d asked with %d ms, want %d", i, pool.intervals[i], w)
		}
	}
}
