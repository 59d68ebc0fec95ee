package p2p

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// errBudgetLineFull is returned by reserve when waitersMax reservations
// already wait: the callers are bounded (blockSync's serving slots), so
// this is a caller's bug, refused rather than queued without bound.
var errBudgetLineFull = errors.New("byte budget: line full")

// byteBudget is a weighted semaphore over bytes with a share per peer:
// goroutines reserve the bytes they are about to hold for a peer and
// release them when done. Together they hold at most max bytes, and for
// one peer at most share, so that a few peers cannot hold all of max.
//
// Reservations are granted in arrival order, so a large one is not starved
// by a stream of small ones that keep fitting before it; but one whose
// peer's share has no room does not hold up the line (only that peer's
// later ones): else a peer could stall every other peer's reservations by
// asking beyond its share. A reservation larger than share is granted once
// its peer holds nothing else, and one larger than max once nothing at
// all is held: waiting for room that can never exist would deadlock its
// request.
type byteBudget struct {
	max, share int64
	// waitersMax bounds the line: one waiter per caller at most, so the
	// callers' number. A reservation beyond it fails with errBudgetLineFull.
	waitersMax int

	mu       sync.Mutex
	held     int64
	peak     int64             // the most ever held at once, for tests
	peerHeld map[peer.ID]int64 // held by peer; no zero entries
	peerPeak int64             // the most one peer ever held at once, for tests
	waiters  []*budgetWaiter   // in arrival order
}

type budgetWaiter struct {
	peer    peer.ID
	bytes   int64
	granted bool          // under mu
	ready   chan struct{} // closed once bytes are granted
}

func newByteBudget(max, share int64, waitersMax int) *byteBudget {
	return &byteBudget{max: max, share: share, waitersMax: waitersMax, peerHeld: make(map[peer.ID]int64)}
}

// tryReserve takes n bytes for p if they can be granted now, without
// waiting: they fit in the budget and p's share, and no reservation that
// waits before them can be granted first.
func (b *byteBudget) tryReserve(p peer.ID, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) == 0 {
		return b.grantNow(p, n)
	}
	w := b.enqueue(p, n)
	if !w.granted {
		b.waiters[len(b.waiters)-1] = nil // still the last: nothing came since
		b.waiters = b.waiters[:len(b.waiters)-1]
	}
	return w.granted
}

// reserve takes n bytes for p, waiting in line (without spinning) until
// they can be granted or ctx ends; it returns nil exactly when the bytes
// are held.
func (b *byteBudget) reserve(ctx context.Context, p peer.ID, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.grantNow(p, n) {
		b.mu.Unlock()
		return nil
	}
	if len(b.waiters) >= b.waitersMax {
		b.mu.Unlock()
		return errBudgetLineFull
	}
	w := b.enqueue(p, n)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.granted {
		return nil // granted as ctx ended: the caller holds the bytes
	}
	b.waiters = slices.DeleteFunc(b.waiters, func(o *budgetWaiter) bool { return o == w })
	// w may have been the first that fit its share, holding back smaller
	// reservations behind it that fit now.
	b.grantWaiters()
	return ctx.Err()
}

// release gives back n bytes reserved for p before and grants waiters that
// can be granted now.
func (b *byteBudget) release(p peer.ID, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.peerHeld[p] {
		panic("p2p: byte budget: released more bytes than were reserved for the peer")
	}
	b.held -= n
	if b.peerHeld[p] -= n; b.peerHeld[p] == 0 {
		delete(b.peerHeld, p)
	}
	b.grantWaiters()
}

// grantNow grants n bytes to p if they fit both limits, ignoring the line.
// The caller holds mu and has checked that nobody waits.
func (b *byteBudget) grantNow(p peer.ID, n int64) bool {
	if !b.fitsShare(p, n) || !b.fits(n) {
		return false
	}
	b.grant(p, n)
	return true
}

// enqueue adds n bytes for p to the end of the line and grants what can be
// granted; the caller holds mu and reads w.granted.
func (b *byteBudget) enqueue(p peer.ID, n int64) *budgetWaiter {
	w := &budgetWaiter{peer: p, bytes: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.grantWaiters()
	return w
}

// fits reports whether n more bytes may be held now. The caller holds mu.
func (b *byteBudget) fits(n int64) bool { return b.held == 0 || b.held+n <= b.max }

// fitsShare reports whether p may hold n more bytes now. The caller holds mu.
func (b *byteBudget) fitsShare(p peer.ID, n int64) bool {
	held := b.peerHeld[p]
	return held == 0 || held+n <= b.share
}

// grant records n bytes as held for p. The caller holds mu.
func (b *byteBudget) grant(p peer.ID, n int64) {
	b.held += n
	b.peerHeld[p] += n
	b.peak = max(b.peak, b.held)
	b.peerPeak = max(b.peerPeak, b.peerHeld[p])
}

// grantWaiters walks the line in arrival order, granting each waiter that
// fits. A waiter whose peer's share has no room is passed over, and so are
// that peer's later waiters (each peer's own reservations keep their
// order); the first other waiter that does not fit the budget stops the
// walk, so nothing behind it jumps ahead. The line is at most waitersMax
// long. The caller holds mu.
func (b *byteBudget) grantWaiters() {
	var shareFull []peer.ID // peers passed over, at most one entry per waiter
	kept := b.waiters[:0]
	stopped := false
	for _, w := range b.waiters {
		switch {
		case stopped || slices.Contains(shareFull, w.peer):
		case !b.fitsShare(w.peer, w.bytes):
			shareFull = append(shareFull, w.peer)
		case !b.fits(w.bytes):
			stopped = true
		default:
			b.grant(w.peer, w.bytes)
			w.granted = true
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
}

// budgetState is a snapshot of a byteBudget, for tests.
type budgetState struct {
	held, peak, peerPeak int64
	waiting, peers       int // peers: how many hold bytes
}

func (b *byteBudget) state() budgetState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return budgetState{held: b.held, peak: b.peak, peerPeak: b.peerPeak, waiting: len(b.waiters), peers: len(b.peerHeld)}
}

// heldBy is what p holds now, for tests.
func (b *byteBudget) heldBy(p peer.ID) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peerHeld[p]
}
