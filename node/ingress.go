package node

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
)

// Limits of the wallet-tx ingress.
const (
	// ingressQueueMax bounds the submissions waiting for a worker; past it
	// a wallet is told the node is busy rather than queued without end.
	ingressQueueMax = 8192
	// ingressBatchMax bounds the txs one worker admits together: big
	// enough that a batch's signatures verify at the batch rate and its
	// fsync and gossip message are shared widely, small enough that the
	// first wallet in it does not wait long for the last.
	ingressBatchMax = 1024
)

// errIngressClosed answers submissions that arrive during shutdown.
var errIngressClosed = fmt.Errorf("%w: node shutting down", rpc.ErrNotInitialized)

// txIngress admits wallet txs in groups. A submission waits in a bounded
// queue; a worker takes every submission waiting (up to ingressBatchMax),
// and for the whole group verifies the signatures in one batch, journals
// the accepted txs in one write (answering once an fsync covers it), and
// gossips them in as few messages as the limits allow. Nobody waits for a timer: under light load a group is
// one tx and goes at once; under heavy load the txs that queue while a
// worker is busy form the next group, so the per-tx cost falls exactly
// when it matters. One worker per core.
type txIngress struct {
	queue chan *submission
	done  chan struct{} // closed when the workers stop
	wg    sync.WaitGroup

	add func([]*ledger.Tx) []error // the mempool's batch admission
	// journal writes txs and returns a wait for their fsync: the answer
	// waits for it, the gossip does not.
	journal func([]*ledger.Tx) (durable func() error)
	publish func([]*ledger.Tx) // gossip to peers
}

// submission is one wallet request's txs (one, or a JSON-RPC batch's)
// and where its verdicts go, one per tx in order.
type submission struct {
	txs   []*ledger.Tx
	reply chan []error // buffered: a worker never blocks on it
}

func newTxIngress(add func([]*ledger.Tx) []error, journal func([]*ledger.Tx) (durable func() error), publish func([]*ledger.Tx)) *txIngress {
	return &txIngress{queue: make(chan *submission, ingressQueueMax), done: make(chan struct{}),
		add: add, journal: journal, publish: publish}
}

// start runs the workers until ctx ends; submissions still queued then
// are answered with errIngressClosed.
func (in *txIngress) start(ctx context.Context) {
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		in.wg.Add(1)
		go func() { defer in.wg.Done(); in.work(ctx) }()
	}
	go func() {
		in.wg.Wait()
		close(in.done)
		for {
			select {
			case s := <-in.queue:
				s.reply <- sameError(len(s.txs), errIngressClosed)
			default:
				return
			}
		}
	}()
}

// wait returns once the workers stopped (after start's ctx ended).
func (in *txIngress) wait() { <-in.done }

// submit admits one tx and returns nil once it is in the mempool and
// durable, or why it was refused.
func (in *txIngress) submit(tx *ledger.Tx) error {
	return in.submitMany([]*ledger.Tx{tx})[0]
}

// submitMany admits txs together (a JSON-RPC batch) and returns one
// verdict per tx, as submit would.
func (in *txIngress) submitMany(txs []*ledger.Tx) []error {
	s := &submission{txs: txs, reply: make(chan []error, 1)}
	select {
	case in.queue <- s:
	case <-in.done:
		return sameError(len(txs), errIngressClosed)
	default:
		return sameError(len(txs), fmt.Errorf("%w: node busy, %d submissions waiting; retry later", rpc.ErrMempoolFull, ingressQueueMax))
	}
	select {
	case errs := <-s.reply:
		return errs
	case <-in.done:
		// The drain answers whatever is left; this answer may be it.
		select {
		case errs := <-s.reply:
			return errs
		default:
			return sameError(len(txs), errIngressClosed)
		}
	}
}

func sameError(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func (in *txIngress) work(ctx context.Context) {
	group := make([]*submission, 0, ingressBatchMax)
	for {
		group = group[:0]
		var s *submission
		select {
		case <-ctx.Done():
			return
		case s = <-in.queue:
		}
		txs := len(s.txs)
		group = append(group, s)
	fill:
		for txs < ingressBatchMax {
			select {
			case s := <-in.queue:
				group = append(group, s)
				txs += len(s.txs)
			default:
				break fill
			}
		}
		in.admit(group)
	}
}

// answer sends every submission of a group its verdicts: the mempool's,
// except that an accepted tx gets the journal's error if durable reports
// one.
func (in *txIngress) answer(group []*submission, all []admitted, errs []error, durable func() error) {
	var journalErr error
	if durable != nil {
		if err := durable(); err != nil {
			// The txs stay pending here, but the answer cannot promise
			// they survive a crash.
			journalErr = fmt.Errorf("store tx durably: %w", err)
		}
	}
	verdicts := make([][]error, len(group))
	for i, s := range group {
		verdicts[i] = make([]error, len(s.txs))
	}
	for i, a := range all {
		err := errs[i]
		if err == nil && journalErr != nil {
			err = journalErr
		}
		verdicts[a.sub][a.at] = err
	}
	for i, s := range group {
		s.reply <- verdicts[i]
	}
}

// admitted is one tx of a group, with where its verdict goes.
type admitted struct {
	tx  *ledger.Tx
	sub int // index in the group
	at  int // index in the submission
}

// admit runs one group through the mempool, the journal and gossip, and
// answers every submission in it.
func (in *txIngress) admit(group []*submission) {
	var all []admitted
	for i, s := range group {
		for j, tx := range s.txs {
			all = append(all, admitted{tx: tx, sub: i, at: j})
		}
	}
	// A sender's txs must reach the mempool in nonce order, or a later
	// nonce looks like a gap.
	slices.SortStableFunc(all, func(a, b admitted) int { return cmp.Compare(a.tx.Nonce, b.tx.Nonce) })
	txs := make([]*ledger.Tx, len(all))
	for i, a := range all {
		txs[i] = a.tx
	}
	errs := in.add(txs)
	accepted := make([]*ledger.Tx, 0, len(txs))
	for i, err := range errs {
		if err == nil {
			accepted = append(accepted, txs[i])
		}
	}
	if len(accepted) == 0 {
		in.answer(group, all, errs, nil)
		return
	}
	// Gossip does not wait for the journal's fsync: the txs are in the
	// mempool already, and a tx that reaches peers but not the disk before
	// a crash is only a tx whose wallet got no answer. The answer waits,
	// on its own goroutine, so the worker goes on to the next group while
	// the journal gathers this group's fsync with the next ones'.
	durable := in.journal(accepted)
	in.publish(accepted)
	group = slices.Clone(group) // the worker reuses its slice for the next group
	go in.answer(group, all, errs, durable)
}
