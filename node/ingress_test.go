package node

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
)

var errOddNonce = errors.New("odd nonce")

// refuseOddNonces is a mempool admission that refuses every odd nonce.
func refuseOddNonces(txs []*ledger.Tx) []error {
	errs := make([]error, len(txs))
	for i, tx := range txs {
		if tx.Nonce%2 == 1 {
			errs[i] = fmt.Errorf("%w: %d", errOddNonce, tx.Nonce)
		}
	}
	return errs
}

// TestIngressGroupsAndAnswersEachTx: concurrent submissions are admitted
// in groups (fewer admission calls than txs), each wallet gets the verdict
// of its own tx even though groups are reordered by nonce, and only
// accepted txs are journaled (written) before they are published.
func TestIngressGroupsAndAnswersEachTx(t *testing.T) {
	var calls, journaled, published atomic.Int64
	gate := make(chan struct{})
	in := newTxIngress(func(txs []*ledger.Tx) []error {
		<-gate // hold the first groups so later submissions queue up
		calls.Add(1)
		return refuseOddNonces(txs)
	}, func(txs []*ledger.Tx) func() error {
		for _, tx := range txs {
			if tx.Nonce%2 == 1 {
				t.Errorf("journaled refused tx %d", tx.Nonce)
			}
		}
		journaled.Add(int64(len(txs)))
		// The fsync outlasts the worker's next group, whose answers
		// must not mix with this one's.
		return func() error { time.Sleep(2 * time.Millisecond); return nil }
	}, func(txs []*ledger.Tx) {
		if journaled.Load() < published.Load()+int64(len(txs)) {
			t.Error("published txs before journaling them")
		}
		published.Add(int64(len(txs)))
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in.start(ctx)

	const total = 400
	var wg sync.WaitGroup
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx := &ledger.Tx{Nonce: uint64(total - i)} // reverse order: the sort must not mix answers
			err := in.submit(tx)
			if odd := tx.Nonce%2 == 1; odd != errors.Is(err, errOddNonce) {
				t.Errorf("tx %d answered %v", tx.Nonce, err)
			}
			if err != nil && err.Error() != fmt.Sprintf("%v: %d", errOddNonce, tx.Nonce) {
				t.Errorf("tx %d got another tx's answer: %v", tx.Nonce, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the submissions queue behind the gate
	close(gate)
	answered := make(chan struct{})
	go func() { wg.Wait(); close(answered) }()
	select {
	case <-answered:
	case <-time.After(30 * time.Second):
		t.Fatal("some submissions were never answered")
	}
	if c := calls.Load(); c >= total/4 {
		t.Fatalf("%d admission calls for %d txs: submissions were not grouped", c, total)
	}
	if journaled.Load() != total/2 || published.Load() != total/2 {
		t.Fatalf("journaled %d, published %d, want %d each", journaled.Load(), published.Load(), total/2)
	}
}

// TestIngressAnswerWaitsForTheJournal: a wallet is answered only once the
// journal's fsync covers its tx, and gets the fsync's failure if it fails;
// gossip does not wait for the fsync.
func TestIngressAnswerWaitsForTheJournal(t *testing.T) {
	diskErr := errors.New("disk on fire")
	fsync := make(chan error)
	var published atomic.Int64
	in := newTxIngress(func(txs []*ledger.Tx) []error { return make([]error, len(txs)) },
		func([]*ledger.Tx) func() error { return func() error { return <-fsync } },
		func(txs []*ledger.Tx) { published.Add(int64(len(txs))) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in.start(ctx)
	answer := make(chan error, 1)
	go func() { answer <- in.submit(&ledger.Tx{}) }()
	deadline := time.Now().Add(10 * time.Second)
	for published.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the tx was not gossiped before its fsync")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-answer:
		t.Fatalf("answered %v before the fsync", err)
	case <-time.After(50 * time.Millisecond):
	}
	fsync <- diskErr
	if err := <-answer; !errors.Is(err, diskErr) {
		t.Fatalf("submit = %v, want the journal's error", err)
	}
}

// TestIngressBusyAndShutdown: a full queue answers at once with a
// mempool-full error, and shutdown answers everything still waiting.
func TestIngressBusyAndShutdown(t *testing.T) {
	block := make(chan struct{})
	in := newTxIngress(func(txs []*ledger.Tx) []error { <-block; return make([]error, len(txs)) },
		func([]*ledger.Tx) func() error { return func() error { return nil } }, func([]*ledger.Tx) {})
	ctx, cancel := context.WithCancel(context.Background())
	in.start(ctx)
	// Each worker holds up to a group, the queue the rest, and 8 more
	// find no room.
	total := ingressQueueMax + runtime.GOMAXPROCS(0)*ingressBatchMax + 8
	answers := make(chan error, total)
	for range total {
		go func() { answers <- in.submit(&ledger.Tx{}) }()
	}
	deadline := time.After(10 * time.Second)
	var busy error
	for busy == nil {
		select {
		case err := <-answers:
			busy = err
		case <-deadline:
			t.Fatal("no submission was refused with a full queue")
		}
	}
	if !errors.Is(busy, rpc.ErrMempoolFull) {
		t.Fatalf("full queue answered %v, want rpc.ErrMempoolFull", busy)
	}
	cancel()
	close(block)
	for range total - 1 {
		select {
		case err := <-answers:
			if err != nil && !errors.Is(err, errIngressClosed) && !errors.Is(err, rpc.ErrMempoolFull) {
				t.Fatalf("answer during shutdown: %v", err)
			}
		case <-deadline:
			t.Fatal("a submission was never answered after shutdown")
		}
	}
	if err := in.submit(&ledger.Tx{}); !errors.Is(err, errIngressClosed) {
		t.Fatalf("submit after shutdown = %v", err)
	}
}

// TestIngressSubmitManyAnswersInOrder: a request's txs are admitted in
// one group and their verdicts come back in the request's order, though
// the group is sorted by nonce inside.
func TestIngressSubmitManyAnswersInOrder(t *testing.T) {
	var calls atomic.Int64
	in := newTxIngress(func(txs []*ledger.Tx) []error {
		calls.Add(1)
		return refuseOddNonces(txs)
	}, func([]*ledger.Tx) func() error { return func() error { return nil } }, func([]*ledger.Tx) {})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in.start(ctx)
	nonces := []uint64{4, 1, 3, 0, 2}
	txs := make([]*ledger.Tx, len(nonces))
	for i, n := range nonces {
		txs[i] = &ledger.Tx{Nonce: n}
	}
	errs := in.submitMany(txs)
	if len(errs) != len(txs) {
		t.Fatalf("%d verdicts for %d txs", len(errs), len(txs))
	}
	for i, n := range nonces {
		if want := n%2 == 1; errors.Is(errs[i], errOddNonce) != want {
			t.Fatalf("tx %d (nonce %d) answered %v", i, n, errs[i])
		}
		if errs[i] != nil && errs[i].Error() != fmt.Sprintf("%v: %d", errOddNonce, n) {
			t.Fatalf("tx %d (nonce %d) got another tx's answer: %v", i, n, errs[i])
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d admission calls for one request", calls.Load())
	}
}
