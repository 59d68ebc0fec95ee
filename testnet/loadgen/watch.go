package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
)

// Limits of the commit watcher.
const (
	// watchPollInterval: the head is also polled, so a lost notification
	// delays a height by at most this.
	watchPollInterval = 250 * time.Millisecond
	// watchAttemptsMax bounds reconnections; each waits at least
	// watchBackoffMin, and the run's end cancels the watcher anyway.
	watchAttemptsMax = 10_000
	watchBackoffMin  = 100 * time.Millisecond
	watchBackoffMax  = time.Second
	// watchErrorsKept bounds the connection errors kept for the report.
	watchErrorsKept = 16
	// watchMarksMax bounds the heights known but not yet read; past it
	// the oldest marks merge (their heights take a later time).
	watchMarksMax = 4096
	// watchCallTimeout bounds each call of the watcher (dial, subscribe,
	// head, block), so a node that stops answering but keeps its
	// connection open (frozen, wedged) is left for the next URL instead
	// of being followed blind until the run ends.
	watchCallTimeout = 5 * time.Second
)

// mark says heights up to height were known committed at atNs.
type mark struct {
	height uint64
	atNs   int64
}

// watcher reads every committed height in order from one node at a time,
// learning of new heights from newBlocks notifications and, as a backstop,
// from polling the head. A height's commit time is when it was first known
// committed: its notification, or the notification or poll that revealed
// it if its own was missed.
type watcher struct {
	g     *Generator
	urls  []string
	next  uint64 // next height to read
	known uint64 // highest height known committed
	marks []mark // increasing heights above next-1
	ready chan struct{}
	once  sync.Once

	mu      sync.Mutex
	errList []string
}

func newWatcher(g *Generator, from uint64) *watcher {
	return &watcher{g: g, urls: g.cfg.WatchRPC, next: from, known: from - 1, ready: make(chan struct{})}
}

// run follows the chain until ctx ends, moving to the next URL whenever a
// connection fails.
func (w *watcher) run(ctx context.Context) {
	backoff := watchBackoffMin
	for attempt := 0; attempt < watchAttemptsMax && ctx.Err() == nil; attempt++ {
		url := w.urls[attempt%len(w.urls)]
		err := w.follow(ctx, url)
		if ctx.Err() != nil {
			return
		}
		w.noteErr(fmt.Errorf("%s: %w", url, err))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, watchBackoffMax)
	}
}

func (w *watcher) noteErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errList) < watchErrorsKept {
		w.errList = append(w.errList, err.Error())
	}
}

func (w *watcher) errs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.errList...)
}

// callCtx bounds one call of the watcher.
func callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, watchCallTimeout)
}

// follow subscribes on one node and reads heights until the connection
// fails, a call takes longer than watchCallTimeout, or ctx ends.
func (w *watcher) follow(ctx context.Context, httpURL string) (err error) {
	wsURL, err := client.WebSocketURL(httpURL)
	if err != nil {
		return err
	}
	cctx, cancel := callCtx(ctx)
	c, err := client.DialWebSocket(cctx, wsURL)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		// Closing waits for the peer's close frame, up to seconds from a
		// node that does not answer: leave it behind when moving on.
		if err != nil && ctx.Err() == nil {
			go c.Close()
			return
		}
		c.Close()
	}()
	cctx, cancel = callCtx(ctx)
	sub, err := c.SubscribeNewBlocks(cctx)
	cancel()
	if err != nil {
		return err
	}
	w.once.Do(func() { close(w.ready) })
	poll := time.NewTicker(watchPollInterval)
	defer poll.Stop()
	head, err := w.blockNumber(ctx, c)
	if err != nil {
		return err
	}
	w.learn(head)
	// Each pass waits for a notification or a poll tick and reads what
	// they revealed; the run's end (ctx) bounds the passes.
	for {
		if err := w.readUpTo(ctx, c); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case hdr, ok := <-sub.C:
			if !ok {
				if err := <-sub.Err(); err != nil {
					return err
				}
				return errors.New("subscription ended")
			}
			w.learn(hdr.Height)
			w.drain(sub)
		case <-poll.C:
			head, err := w.blockNumber(ctx, c)
			if err != nil {
				return err
			}
			w.learn(head)
		}
	}
}

func (w *watcher) blockNumber(ctx context.Context, c *client.Client) (uint64, error) {
	cctx, cancel := callCtx(ctx)
	defer cancel()
	return c.BlockNumber(cctx)
}

// drain takes the notifications already queued, so one read pass covers
// them all.
func (w *watcher) drain(sub *client.Subscription[rpc.BlockHeader]) {
	for range client.SubscriptionBufferMax {
		select {
		case hdr, ok := <-sub.C:
			if !ok {
				return
			}
			w.learn(hdr.Height)
		default:
			return
		}
	}
}

// learn records that heights up to h are committed, now.
func (w *watcher) learn(h uint64) {
	if h <= w.known {
		return
	}
	w.known = h
	if len(w.marks) >= watchMarksMax {
		w.marks = w.marks[1:]
	}
	w.marks = append(w.marks, mark{height: h, atNs: w.g.since()})
}

// readUpTo reads the blocks from next to the highest known height in
// order and hands their txs to the generator. A node that does not have
// a height yet (a lagging one after a switch) is asked again later.
func (w *watcher) readUpTo(ctx context.Context, c *client.Client) error {
	for w.next <= w.known {
		cctx, cancel := callCtx(ctx)
		b, err := c.BlockByNumber(cctx, rpc.AtHeight(w.next), false)
		cancel()
		if err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		for len(w.marks) > 0 && w.marks[0].height < w.next {
			w.marks = w.marks[1:]
		}
		at := w.g.since()
		if len(w.marks) > 0 && w.marks[0].height >= w.next {
			at = w.marks[0].atNs
		}
		for _, h := range b.TxHashes {
			w.g.markCommitted(h, w.next, at)
		}
		w.g.head.Store(int64(w.next))
		w.g.blocksRead.Add(1)
		w.next++
	}
	return nil
}
