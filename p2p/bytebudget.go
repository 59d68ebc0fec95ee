package p2p

import (
	"context"
	"slices"
	"sync"
)

// byteBudget is a weighted semaphore over bytes: goroutines reserve the
// bytes they are about to hold and release them when done, and together
// hold at most max of them. Reservations are granted in arrival order, so
// a large one is not starved by a stream of small ones that keep fitting
// before it. One larger than max is granted once nothing else is held:
// waiting for room that can never exist would deadlock its request.
type byteBudget struct {
	max int64

	mu      sync.Mutex
	held    int64
	peak    int64           // the most ever held at once, for tests
	waiters []*budgetWaiter // in arrival order
}

type budgetWaiter struct {
	bytes int64
	ready chan struct{} // closed once bytes are granted
}

func newByteBudget(max int64) *byteBudget { return &byteBudget{max: max} }

// tryReserve takes n bytes if they fit now and nobody waits before it.
func (b *byteBudget) tryReserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || !b.fits(n) {
		return false
	}
	b.grant(n)
	return true
}

// reserve takes n bytes, waiting in line (without spinning) until they fit
// or ctx ends; it returns nil exactly when the bytes are held.
func (b *byteBudget) reserve(ctx context.Context, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.fits(n) {
		b.grant(n)
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{bytes: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready:
		return nil // granted as ctx ended: the caller holds the bytes
	default:
	}
	b.waiters = slices.DeleteFunc(b.waiters, func(o *budgetWaiter) bool { return o == w })
	// w may have been the head of the line, holding back smaller
	// reservations behind it that fit now.
	b.grantWaiters()
	return ctx.Err()
}

// release gives back n bytes reserved before and grants waiters that now fit.
func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.held {
		panic("p2p: byte budget: released more bytes than were reserved")
	}
	b.held -= n
	b.grantWaiters()
}

// fits reports whether n more bytes may be held now. The caller holds mu.
func (b *byteBudget) fits(n int64) bool { return b.held == 0 || b.held+n <= b.max }

// grant records n bytes as held. The caller holds mu.
func (b *byteBudget) grant(n int64) {
	b.held += n
	b.peak = max(b.peak, b.held)
}

// grantWaiters grants waiters from the head of the line while they fit.
// The caller holds mu.
func (b *byteBudget) grantWaiters() {
	for len(b.waiters) > 0 && b.fits(b.waiters[0].bytes) {
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		b.grant(w.bytes)
		close(w.ready)
	}
}

// budgetState is a snapshot of a byteBudget, for tests.
type budgetState struct {
	held, peak int64
	waiting    int
}

func (b *byteBudget) state() budgetState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return budgetState{held: b.held, peak: b.peak, waiting: len(b.waiters)}
}
