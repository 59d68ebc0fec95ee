package ledger

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// compactionPacer is the store's Pebble compaction scheduler. It starts
// compactions as Pebble's default scheduler does (as many at once as the
// database allows without permission) and paces each one: after every
// stretch of work a compaction sleeps in proportion, so it keeps to about
// duty of the wall time, until level 0 grows deep (deep reports it) and
// compactions run flat out again so that writes never stall on them.
//
// Why: a compaction into the base level is seconds of work for one
// goroutine. A node that runs it flat out takes a core from its consensus
// loop, and the nodes of a local network, storing the same blocks,
// compact at nearly the same moments: three of four at once starve every
// consensus loop on two cores, and the network commits a block a second
// until they finish. Paced, the same work spreads over a few times as
// long. Flushes are never paced (Pebble does not schedule them here):
// they free the memtables that writes wait for.
type compactionPacer struct {
	duty  float64     // share of wall time a compaction may run, in (0, 1]
	deep  func() bool // level 0 is too deep to pace; nil means never deep
	now   func() time.Time
	sleep func(time.Duration)

	db pebble.DBForCompaction // set by Register, before any other call

	mu struct {
		sync.Mutex
		running      int  // compactions granted and not yet done
		granting     bool // a grant loop runs; another only flags again
		again        bool
		unregistered bool
	}
	idle    *sync.Cond  // signalled when granting ends; on mu
	closing atomic.Bool // Unregister began: the database is closing
	poke    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// Pacing parameters. A stretch is the work between two of Pebble's
// progress reports (128 keys); stretches shorter than paceSliceMin are
// added up before the compaction sleeps, so that it sleeps in slices the
// Go and Linux schedulers honour. grantInterval is how often waiting
// compactions are reconsidered without a prompt: Pebble does not report
// flushes, which can raise how many compactions it allows.
// A pause is at most paceSleepMax, however long the stretch before it
// (a compaction descheduled for a while), so the database's Close, which
// waits for running compactions, waits little once pacing stops.
const (
	paceSliceMin  = 2 * time.Millisecond
	paceSleepMax  = 100 * time.Millisecond
	grantInterval = 100 * time.Millisecond
)

var _ pebble.CompactionScheduler = (*compactionPacer)(nil)

func newCompactionPacer(duty float64, deep func() bool) *compactionPacer {
	p := &compactionPacer{duty: min(max(duty, 0.05), 1), deep: deep, now: time.Now, sleep: time.Sleep,
		poke: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// Register implements pebble.CompactionScheduler.
func (p *compactionPacer) Register(_ int, db pebble.DBForCompaction) {
	p.db = db
	go p.grantLoop()
}

// Unregister implements pebble.CompactionScheduler: no grant starts after
// it returns.
func (p *compactionPacer) Unregister() {
	p.closing.Store(true) // running compactions finish unpaced
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.unregistered = true
	// A grant started by a compaction's Done may still be calling into
	// the database: wait it out.
	for p.mu.granting {
		p.idle.Wait()
	}
}

// TrySchedule implements pebble.CompactionScheduler; Pebble calls it with
// its own mutex held, so it only asks how many compactions may run.
func (p *compactionPacer) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.unregistered || p.mu.running >= p.db.GetAllowedWithoutPermission() {
		return false, nil
	}
	p.mu.running++
	return true, p.newGrant()
}

// UpdateGetAllowedWithoutPermission implements pebble.CompactionScheduler.
func (p *compactionPacer) UpdateGetAllowedWithoutPermission() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

func (p *compactionPacer) grantLoop() {
	defer close(p.stopped)
	t := time.NewTicker(grantInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.poke:
		}
		p.grant()
	}
}

// grant starts waiting compactions while the database allows more. It
// calls into the database without holding p.mu (the database's mutex
// comes first), reserving each slot before offering it, so a compaction
// that finishes at once still finds its slot counted.
func (p *compactionPacer) grant() {
	p.mu.Lock()
	if p.mu.granting {
		p.mu.again = true
		p.mu.Unlock()
		return
	}
	p.mu.granting = true
	p.mu.Unlock()
	for {
		p.mu.Lock()
		p.mu.again = false
		if p.mu.unregistered || p.mu.running >= p.db.GetAllowedWithoutPermission() {
			p.endGrantLocked()
			p.mu.Unlock()
			return
		}
		p.mu.running++
		p.mu.Unlock()
		started := false
		if waiting, _ := p.db.GetWaitingCompaction(); waiting {
			started = p.db.Schedule(p.newGrant())
		}
		if !started {
			p.mu.Lock()
			p.mu.running--
			// Work may have appeared while the database said none: a
			// Done or poke in between flagged again.
			if !p.mu.again {
				p.endGrantLocked()
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
		}
	}
}

func (p *compactionPacer) endGrantLocked() {
	p.mu.granting = false
	p.idle.Broadcast()
}

func (p *compactionPacer) newGrant() *pacedGrant { return &pacedGrant{p: p} }

// done releases a finished compaction's slot and offers it to the next.
func (p *compactionPacer) done() {
	p.mu.Lock()
	p.mu.running--
	p.mu.Unlock()
	p.grant()
}

// pacedGrant is one compaction's permission to run, and its pace.
type pacedGrant struct {
	p *compactionPacer
	// worked is the compaction's running time not yet paid for by a
	// sleep, since mark. Only the compaction's main goroutine reports
	// progress, so these need no lock.
	mark   time.Time
	worked time.Duration
}

// Started implements pebble.CompactionGrantHandle.
func (g *pacedGrant) Started() { g.mark = g.p.now() }

// MeasureCPU implements pebble.CompactionGrantHandle.
func (g *pacedGrant) MeasureCPU(pebble.CompactionGoroutineKind) {}

// CumulativeStats implements pebble.CompactionGrantHandle: Pebble calls
// it from the compaction's main goroutine every 128 keys, and it may
// block. It sleeps (1-duty)/duty times the time worked since the last
// sleep, so the compaction runs for about duty of the wall time. Time
// worked is wall time: on a machine short of processors it includes the
// time the compaction waited for one, and the compaction then yields
// more, which is the point.
func (g *pacedGrant) CumulativeStats(pebble.CompactionGrantHandleStats) {
	now := g.p.now()
	if g.mark.IsZero() {
		g.mark = now
		return
	}
	g.worked += now.Sub(g.mark)
	g.mark = now
	if g.worked < paceSliceMin || g.p.duty >= 1 {
		return
	}
	pause := min(time.Duration(float64(g.worked)*(1-g.p.duty)/g.p.duty), paceSleepMax)
	g.worked = 0
	if g.p.closing.Load() || (g.p.deep != nil && g.p.deep()) {
		return
	}
	g.p.sleep(pause)
	g.mark = g.p.now()
}

// Done implements pebble.CompactionGrantHandle.
func (g *pacedGrant) Done() { g.p.done() }
