package ledger

import (
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// pacerDB is a database with waiting compactions for compactionPacer.
type pacerDB struct {
	mu        sync.Mutex
	allowed   int
	waiting   int
	scheduled []pebble.CompactionGrantHandle
}

func (d *pacerDB) GetAllowedWithoutPermission() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.allowed
}

func (d *pacerDB) GetWaitingCompaction() (bool, pebble.WaitingCompaction) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waiting > 0, pebble.WaitingCompaction{}
}

func (d *pacerDB) Schedule(h pebble.CompactionGrantHandle) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting == 0 {
		return false
	}
	d.waiting--
	d.scheduled = append(d.scheduled, h)
	return true
}

func (d *pacerDB) started() []pebble.CompactionGrantHandle {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]pebble.CompactionGrantHandle(nil), d.scheduled...)
}

func (p *compactionPacer) runningNow() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.running
}

// TestCompactionPacerGrants checks the pacer starts as many compactions
// as the database allows and no more, that a finished compaction's slot
// goes to a waiting one at once, and that nothing starts once it is
// unregistered.
func TestCompactionPacerGrants(t *testing.T) {
	db := &pacerDB{allowed: 2, waiting: 3}
	p := newCompactionPacer(1, nil)
	p.Register(2, db)
	p.grant()
	if got := db.started(); len(got) != 2 || p.runningNow() != 2 {
		t.Fatalf("started %d compactions, %d running; want 2 of 3 waiting (2 allowed)", len(got), p.runningNow())
	}
	if ok, _ := p.TrySchedule(); ok {
		t.Fatal("TrySchedule granted a third compaction with 2 allowed")
	}
	db.started()[0].Done()
	if got := db.started(); len(got) != 3 || p.runningNow() != 2 {
		t.Fatalf("after one finished: started %d, %d running; want the third started at once", len(got), p.runningNow())
	}
	for _, h := range db.started()[1:] {
		h.Done()
	}
	if n := p.runningNow(); n != 0 {
		t.Fatalf("%d running after every compaction finished", n)
	}
	ok, h := p.TrySchedule()
	if !ok {
		t.Fatal("TrySchedule refused with nothing running")
	}
	h.Done()
	p.Unregister()
	db.mu.Lock()
	db.waiting = 1
	db.mu.Unlock()
	p.grant()
	if ok, _ := p.TrySchedule(); ok || len(db.started()) != 3 {
		t.Fatalf("a compaction started after Unregister (TrySchedule %v, %d started)", ok, len(db.started()))
	}
}

// TestCompactionPacerPaces checks the pause after each stretch of work:
// (1-duty)/duty times the time worked, stretches under paceSliceMin added
// up first, at most paceSleepMax, and none while level 0 is deep or the
// database closes.
func TestCompactionPacerPaces(t *testing.T) {
	clock := time.Unix(0, 0)
	var slept []time.Duration
	deep := false
	p := newCompactionPacer(0.25, func() bool { return deep })
	p.now = func() time.Time { return clock }
	p.sleep = func(d time.Duration) { slept = append(slept, d); clock = clock.Add(d) }
	g := p.newGrant()
	g.Started()
	work := func(d time.Duration) {
		clock = clock.Add(d)
		g.CumulativeStats(pebble.CompactionGrantHandleStats{})
	}
	work(time.Millisecond)
	if len(slept) != 0 {
		t.Fatalf("slept %v after 1 ms, under the %v slice", slept, paceSliceMin)
	}
	work(3 * time.Millisecond)
	if len(slept) != 1 || slept[0] != 12*time.Millisecond {
		t.Fatalf("slept %v after 4 ms of work at duty 1/4, want [12ms]", slept)
	}
	work(time.Second)
	if len(slept) != 2 || slept[1] != paceSleepMax {
		t.Fatalf("slept %v after a 1-s stretch, want the last capped at %v", slept, paceSleepMax)
	}
	deep = true
	work(10 * time.Millisecond)
	deep = false
	p.closing.Store(true)
	work(10 * time.Millisecond)
	if len(slept) != 2 {
		t.Fatalf("slept %v while level 0 was deep or the database closing", slept)
	}
}

// TestCompactionPacerStoreCloses checks a store whose compactions are
// paced still compacts and closes promptly: Close waits for running
// compactions, which stop pacing once it begins.
func TestCompactionPacerStoreCloses(t *testing.T) {
	c := newSTChain(t, 16, 5)
	s, err := OpenStore(t.TempDir(), StoreOptions{ChainID: c.genesis.ChainID})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 4; round++ {
		for h := 0; h < 4; h++ {
			b, d := c.next(t, 16)
			if err := s.ApplyBlock(b, nil, d); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.db.Compact(t.Context(), []byte{0}, []byte{0xff}, true) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := s.db.Metrics().Levels[0].TablesCount; n != 0 {
		t.Fatalf("%d level-0 tables after a full compaction", n)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v", took)
	}
}
