package p2p

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"testing"
)

// reserveAsync starts reserve(n) on its own goroutine and returns where its
// result arrives, once the reservation waits in line.
func reserveAsync(t *testing.T, ctx context.Context, b *byteBudget, n int64, waiting int) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.reserve(ctx, n) }()
	waitFor(t, testWait, "a reservation waiting in line", func() bool { return b.state().waiting == waiting })
	return done
}

func TestByteBudgetGrantsInArrivalOrder(t *testing.T) {
	// Goal: a reservation that does not fit waits, and later small ones
	// that would fit wait behind it instead of starving it. Method: a
	// budget of 10 holds 6; 8 waits; 1 must not jump the line; releasing
	// the 6 grants the 8, never more than 10 held.
	b := newByteBudget(10)
	if !b.tryReserve(6) {
		t.Fatal("6 of 10 refused")
	}
	eight := reserveAsync(t, context.Background(), b, 8, 1)
	if b.tryReserve(1) {
		t.Fatal("1 byte jumped the line past a waiting reservation")
	}
	b.release(6)
	if err := <-eight; err != nil {
		t.Fatalf("8 of 10 after a release: %v", err)
	}
	if s := b.state(); s.held != 8 || s.peak != 8 || s.waiting != 0 {
		t.Fatalf("state %+v, want 8 held, peak 8, none waiting", s)
	}
	b.release(8)
}

func TestByteBudgetGrantsAnOversizedReservationAlone(t *testing.T) {
	// Goal: a reservation larger than the whole budget is granted once
	// nothing else is held, so it can never deadlock, and nothing joins it.
	// Method: a budget of 10; 25 on an empty budget, then 1 waits until
	// the 25 is released; 25 behind a held 1 waits for it.
	b := newByteBudget(10)
	if !b.tryReserve(25) {
		t.Fatal("25 refused on an empty budget of 10")
	}
	one := reserveAsync(t, context.Background(), b, 1, 1)
	b.release(25)
	if err := <-one; err != nil {
		t.Fatal(err)
	}
	big := reserveAsync(t, context.Background(), b, 25, 1)
	b.release(1)
	if err := <-big; err != nil {
		t.Fatal(err)
	}
	if s := b.state(); s.held != 25 || s.peak != 25 {
		t.Fatalf("state %+v, want 25 held alone", s)
	}
	b.release(25)
}

func TestByteBudgetWaitEndsWithItsContext(t *testing.T) {
	// Goal: a wait ends with its context, leaves the line and lets a
	// reservation it held back through. Method: a budget of 10 holds 4;
	// 8 waits, 2 waits behind it; cancelling the 8 grants the 2.
	b := newByteBudget(10)
	if !b.tryReserve(4) {
		t.Fatal("4 of 10 refused")
	}
	ctx, cancel := context.WithCancel(context.Background())
	eight := reserveAsync(t, ctx, b, 8, 1)
	two := reserveAsync(t, context.Background(), b, 2, 2)
	cancel()
	if err := <-eight; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v, want context.Canceled", err)
	}
	if err := <-two; err != nil {
		t.Fatalf("the reservation behind a cancelled one: %v", err)
	}
	if s := b.state(); s.held != 6 || s.waiting != 0 {
		t.Fatalf("state %+v, want 6 held, none waiting", s)
	}
	b.release(6)
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
