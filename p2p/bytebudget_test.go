package p2p

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Peers of the byte budget's unit tests.
const budgetPeerA, budgetPeerB, budgetPeerC peer.ID = "peer-a", "peer-b", "peer-c"

// testBudgetWaitersMax is the line bound of the unit tests' budgets, more
// than any of them needs.
const testBudgetWaitersMax = 8

// reserveAsync starts reserve(n) for p on its own goroutine and returns
// where its result arrives, once the reservation waits in line.
func reserveAsync(t *testing.T, ctx context.Context, b *byteBudget, p peer.ID, n int64, waiting int) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.reserve(ctx, p, n) }()
	waitFor(t, testWait, "a reservation waiting in line", func() bool { return b.state().waiting == waiting })
	return done
}

// mustTryReserve takes n bytes for p at once or fails the test.
func mustTryReserve(t *testing.T, b *byteBudget, p peer.ID, n int64) {
	t.Helper()
	if !b.tryReserve(p, n) {
		t.Fatalf("%d bytes for %s refused (state %+v, %s holds %d)", n, p, b.state(), p, b.heldBy(p))
	}
}

// granted reports whether a reservation's result has arrived, failing the
// test if it is an error.
func granted(t *testing.T, done <-chan error) bool {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("reservation: %v", err)
		}
		return true
	default:
		return false
	}
}

func TestByteBudgetGrantsInArrivalOrder(t *testing.T) {
	// Goal: a reservation that does not fit waits, and later small ones
	// that would fit wait behind it instead of starving it. Method: a
	// budget of 10 holds 6; 8 waits; 1 must not jump the line; releasing
	// the 6 grants the 8, never more than 10 held.
	b := newByteBudget(10, 10, testBudgetWaitersMax)
	mustTryReserve(t, b, budgetPeerA, 6)
	eight := reserveAsync(t, context.Background(), b, budgetPeerB, 8, 1)
	if b.tryReserve(budgetPeerC, 1) {
		t.Fatal("1 byte jumped the line past a waiting reservation")
	}
	b.release(budgetPeerA, 6)
	if err := <-eight; err != nil {
		t.Fatalf("8 of 10 after a release: %v", err)
	}
	if s := b.state(); s.held != 8 || s.peak != 8 || s.waiting != 0 {
		t.Fatalf("state %+v, want 8 held, peak 8, none waiting", s)
	}
	b.release(budgetPeerB, 8)
}

func TestByteBudgetGrantsAnOversizedReservationAlone(t *testing.T) {
	// Goal: a reservation larger than the whole budget is granted once
	// nothing else is held, so it can never deadlock, and nothing joins it.
	// Method: a budget of 10; 25 on an empty budget, then 1 waits until
	// the 25 is released; 25 behind a held 1 waits for it.
	b := newByteBudget(10, 10, testBudgetWaitersMax)
	mustTryReserve(t, b, budgetPeerA, 25)
	one := reserveAsync(t, context.Background(), b, budgetPeerB, 1, 1)
	b.release(budgetPeerA, 25)
	if err := <-one; err != nil {
		t.Fatal(err)
	}
	big := reserveAsync(t, context.Background(), b, budgetPeerA, 25, 1)
	b.release(budgetPeerB, 1)
	if err := <-big; err != nil {
		t.Fatal(err)
	}
	if s := b.state(); s.held != 25 || s.peak != 25 {
		t.Fatalf("state %+v, want 25 held alone", s)
	}
	b.release(budgetPeerA, 25)
}

func TestByteBudgetWaitEndsWithItsContext(t *testing.T) {
	// Goal: a wait ends with its context, leaves the line and lets a
	// reservation it held back through, whether it waited for the budget
	// or for its peer's share. Method: A holds some bytes; a reservation
	// that does not fit waits (for the budget: B's 8 over a budget of 10;
	// for the share: A's 3 over a share of 4), a small one waits behind
	// it; cancelling the first grants the second.
	for _, c := range []struct {
		name                   string
		share, held            int64
		waiter, behind         peer.ID
		waitBytes, behindBytes int64
	}{
		{"budget", 10, 4, budgetPeerB, budgetPeerC, 8, 2},
		{"share", 4, 3, budgetPeerA, budgetPeerA, 3, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newByteBudget(10, c.share, testBudgetWaitersMax)
			mustTryReserve(t, b, budgetPeerA, c.held)
			ctx, cancel := context.WithCancel(context.Background())
			first := reserveAsync(t, ctx, b, c.waiter, c.waitBytes, 1)
			second := reserveAsync(t, context.Background(), b, c.behind, c.behindBytes, 2)
			cancel()
			if err := <-first; !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled wait: %v, want context.Canceled", err)
			}
			if err := <-second; err != nil {
				t.Fatalf("the reservation behind a cancelled one: %v", err)
			}
			if s := b.state(); s.held != c.held+c.behindBytes || s.waiting != 0 {
				t.Fatalf("state %+v, want %d held, none waiting", s, c.held+c.behindBytes)
			}
		})
	}
}

func TestByteBudgetHoldsAPeerToItsShare(t *testing.T) {
	// Goal: one peer holds at most its share, and its reservation waiting
	// for its share does not hold up other peers' behind it. Method: a
	// budget of 10 with shares of 4; A holds 3, so A's 2 waits; B's 3 is
	// granted past it; once A releases its 3, A's 2 is granted.
	b := newByteBudget(10, 4, testBudgetWaitersMax)
	mustTryReserve(t, b, budgetPeerA, 3)
	if b.tryReserve(budgetPeerA, 2) {
		t.Fatal("A took 5 bytes with a share of 4")
	}
	two := reserveAsync(t, context.Background(), b, budgetPeerA, 2, 1)
	mustTryReserve(t, b, budgetPeerB, 3)
	if granted(t, two) {
		t.Fatal("A's 2 granted while A held 3 of its share of 4")
	}
	b.release(budgetPeerA, 3)
	if err := <-two; err != nil {
		t.Fatal(err)
	}
	if s := b.state(); s.held != 5 || s.peerPeak != 3 || s.peers != 2 || s.waiting != 0 {
		t.Fatalf("state %+v, want 5 held by 2 peers, none ever more than 3, none waiting", s)
	}
	b.release(budgetPeerA, 2)
	b.release(budgetPeerB, 3)
	if s := b.state(); s.held != 0 || s.peers != 0 {
		t.Fatalf("state %+v after every release, want nothing held and no peer kept", s)
	}
}

func TestByteBudgetKeepsArrivalOrderAmongPeersWithRoom(t *testing.T) {
	// Goal: shares do not undo the line's fairness: a reservation its
	// share has room for but the budget has not still keeps later, smaller
	// ones of other peers behind it. Method: a budget of 10 with shares of
	// 6; A holds 5 and B 4; C's 6 waits; D's 1, which would fit, waits
	// behind it; releasing A's 5 grants C's 6 and not D's 1; releasing
	// B's 4 grants D's 1.
	const budgetPeerD peer.ID = "peer-d"
	b := newByteBudget(10, 6, testBudgetWaitersMax)
	mustTryReserve(t, b, budgetPeerA, 5)
	mustTryReserve(t, b, budgetPeerB, 4)
	six := reserveAsync(t, context.Background(), b, budgetPeerC, 6, 1)
	if b.tryReserve(budgetPeerD, 1) {
		t.Fatal("1 byte jumped the line past a waiting reservation with room in its share")
	}
	one := reserveAsync(t, context.Background(), b, budgetPeerD, 1, 2)
	b.release(budgetPeerA, 5)
	if err := <-six; err != nil {
		t.Fatal(err)
	}
	if granted(t, one) {
		t.Fatal("D's 1 granted with 10 of 10 held")
	}
	b.release(budgetPeerB, 4)
	if err := <-one; err != nil {
		t.Fatal(err)
	}
	if s := b.state(); s.held != 7 || s.peak != 10 || s.waiting != 0 {
		t.Fatalf("state %+v, want 7 held, peak 10, none waiting", s)
	}
}

func TestByteBudgetKeepsEachPeersOwnOrder(t *testing.T) {
	// Goal: a peer's later, smaller reservation does not pass its own
	// earlier one waiting for its share (which it would starve), though
	// other peers' do. Method: a budget of 100 with shares of 10; A holds
	// 4; A's 8 waits; A's 1 would fit its share but waits behind it; B's 5
	// is granted; releasing A's 4 grants A's 8, then A's 1.
	b := newByteBudget(100, 10, testBudgetWaitersMax)
	mustTryReserve(t, b, budgetPeerA, 4)
	eight := reserveAsync(t, context.Background(), b, budgetPeerA, 8, 1)
	if b.tryReserve(budgetPeerA, 1) {
		t.Fatal("A's 1 passed A's own waiting 8")
	}
	one := reserveAsync(t, context.Background(), b, budgetPeerA, 1, 2)
	mustTryReserve(t, b, budgetPeerB, 5)
	b.release(budgetPeerA, 4)
	for _, done := range []<-chan error{eight, one} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := b.heldBy(budgetPeerA); got != 9 {
		t.Fatalf("A holds %d, want 8 + 1", got)
	}
}

func TestByteBudgetGrantsABlockLargerThanTheShareToAPeerHoldingNothing(t *testing.T) {
	// Goal: a reservation larger than a peer's share is granted once that
	// peer holds nothing, even while other peers hold bytes, so no request
	// waits for room its share can never have; nothing of the same peer
	// joins it. Method: a budget of 10 with shares of 3; B holds 2; A's 5
	// is granted; A's 1 waits until A's 5 is released.
	b := newByteBudget(10, 3, testBudgetWaitersMax)
	mustTryReserve(t, b, budgetPeerB, 2)
	mustTryReserve(t, b, budgetPeerA, 5)
	one := reserveAsync(t, context.Background(), b, budgetPeerA, 1, 1)
	mustTryReserve(t, b, budgetPeerC, 3)
	if granted(t, one) {
		t.Fatal("A's 1 granted beside A's 5, over its share of 3")
	}
	b.release(budgetPeerA, 5)
	if err := <-one; err != nil {
		t.Fatal(err)
	}
	if s := b.state(); s.held != 6 || s.peerPeak != 5 {
		t.Fatalf("state %+v, want 6 held, A's lone 5 the most one peer held", s)
	}
}

func TestByteBudgetBoundsItsLine(t *testing.T) {
	// Goal: the line never grows past waitersMax, and a reservation that
	// would make it fails at once instead of queueing. Method: a full
	// budget with a line of 2; two reservations wait, a third fails.
	b := newByteBudget(10, 10, 2)
	mustTryReserve(t, b, budgetPeerA, 10)
	reserveAsync(t, context.Background(), b, budgetPeerB, 1, 1)
	reserveAsync(t, context.Background(), b, budgetPeerC, 1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := b.reserve(ctx, budgetPeerA, 1); !errors.Is(err, errBudgetLineFull) {
		t.Fatalf("a third reservation in a line of 2: %v, want errBudgetLineFull", err)
	}
	b.release(budgetPeerA, 10) // grants the two waiting, so their goroutines end
	waitFor(t, testWait, "the line granted", func() bool { return b.state().held == 2 })
}

func TestByteBudgetRefusesReleasingAnotherPeersBytes(t *testing.T) {
	// Goal: releasing bytes for a peer that did not reserve them is a
	// caller's bug and panics rather than corrupting the shares. Method:
	// A reserves 3; releasing 3 for B panics.
	b := newByteBudget(10, 10, testBudgetWaitersMax)
	mustTryReserve(t, b, budgetPeerA, 3)
	defer func() {
		if recover() == nil {
			t.Fatal("releasing B's bytes that A held did not panic")
		}
	}()
	b.release(budgetPeerB, 3)
}

func TestWriteSyncItemMatchesAppendSyncItem(t *testing.T) {
	// Goal: the server's uncopied item writer puts the same bytes on the
	// wire as the item encoder, for items smaller and larger than the
	// write buffer. Method: both encodings of a small and a large item.
	for _, size := range []int{10, 3 << 10} {
		block := bytes.Repeat([]byte{7}, size)
		cert := []byte{1, 2, 3}
		var out bytes.Buffer
		w := bufio.NewWriterSize(&out, 1<<10)
		if err := writeSyncItem(w, block, cert); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if want := appendSyncItem(nil, block, cert); !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("block of %d bytes: written item differs from the encoded one", size)
		}
	}
}
