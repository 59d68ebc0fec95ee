package loadgen

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
)

// Timings of a run.
const (
	watchReadyWait = 5 * time.Second
	drainPoll      = 20 * time.Millisecond
	// dispatchSleepMax bounds one idle wait of the dispatcher, so it
	// rechecks the clock and ctx often even at low rates.
	dispatchSleepMax = 50 * time.Millisecond
)

// Run submits the schedule, follows commits and reports. It may be called
// once; it calls Prepare first if the caller did not.
func (g *Generator) Run(ctx context.Context) (*Result, error) {
	if g.ran {
		return nil, ErrAlreadyRun
	}
	if err := g.Prepare(ctx); err != nil {
		return nil, err
	}
	g.ran = true
	hctx, hcancel := context.WithTimeout(ctx, setupTimeout)
	head, err := client.NewHTTP(g.cfg.WatchRPC[0], g.httpc).BlockNumber(hctx)
	hcancel()
	if err != nil {
		return nil, fmt.Errorf("loadgen: head of %s: %w", g.cfg.WatchRPC[0], err)
	}
	g.head.Store(int64(head))
	g.base = time.Now()

	wctx, wcancel := context.WithCancel(ctx)
	w := newWatcher(g, head+1)
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { defer bg.Done(); w.run(wctx) }()
	select {
	case <-w.ready:
	case <-time.After(watchReadyWait):
	case <-ctx.Done():
	}
	// The clock starts now: the watcher had its chance to subscribe.
	g.startNs.Store(int64(time.Since(g.base)))
	if g.cfg.Progress != nil {
		bg.Add(1)
		go func() { defer bg.Done(); g.progress(wctx) }()
	}

	// Requests end with the run, at the schedule's end plus Grace: a
	// node that holds one unanswered (wedged, paused with its sockets
	// open) would otherwise keep the run going requestTimeout for each
	// node the request tries. Cut, its txs count as failed.
	end := g.cfg.Warmup + g.cfg.Duration + g.cfg.Grace
	sctx, scancel := context.WithDeadline(ctx, g.base.Add(time.Duration(g.startNs.Load())+end))
	defer scancel()
	var senders sync.WaitGroup
	g.dispatch(sctx, &senders)
	senders.Wait()
	g.awaitCommits(ctx, end)
	wcancel()
	bg.Wait()
	res := g.result(g.base.Add(time.Duration(g.startNs.Load())), head+1, w.errs())
	return res, ctx.Err()
}

// schedAt is when token j is due, in nanoseconds since the start.
func (g *Generator) schedAt(j int) int64 {
	return int64(float64(j) / g.cfg.Rate * float64(time.Second))
}

// dispatch hands out tokens by the clock: token j is due at j/Rate. Due
// tokens leave in requests of up to BatchTxs as long as a request slot is
// free; a request short of BatchTxs waits for more tokens until BatchWait
// after its first token's time; a token still waiting SendLagMax after its
// time is unsent (its nonce goes to the next token). It never waits for a
// reply.
func (g *Generator) dispatch(ctx context.Context, senders *sync.WaitGroup) {
	total := int(PlannedTxs(g.cfg.Rate, g.cfg.Warmup, g.cfg.Duration))
	slots := make(chan struct{}, g.cfg.InFlightMax)
	lag := int64(g.cfg.SendLagMax)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	issued, rr, req := 0, 0, 0
	// Each pass issues at least one token or waits on the timer, and the
	// schedule ends at total tokens, so the loop is bounded by the clock.
	for issued < total && ctx.Err() == nil {
		now := g.since()
		due := min(total, int(float64(now)*g.cfg.Rate/float64(time.Second))+1)
		for issued < due && g.schedAt(issued) < now-lag {
			g.unsent.Add(1)
			issued++
		}
		if issued < due {
			n := min(due-issued, g.cfg.BatchTxs)
			// A short batch waits for the rest of its tokens, but not
			// past BatchWait after its first: the wait counts in the
			// latency, which runs from each token's time.
			if want := min(g.cfg.BatchTxs, total-issued); n < want {
				wake := min(g.schedAt(issued+want-1), g.schedAt(issued)+int64(g.cfg.BatchWait))
				if wake > now {
					timer.Reset(time.Duration(wake - now))
					select {
					case <-timer.C:
						continue
					case <-ctx.Done():
						return
					}
				}
			}
			timer.Reset(time.Duration(g.schedAt(issued) + lag - now))
			select {
			case slots <- struct{}{}:
			case <-timer.C:
				continue
			case <-ctx.Done():
				return
			}
			if lagNs := g.since() - g.schedAt(issued); lagNs > g.maxLagNs.Load() {
				g.maxLagNs.Store(lagNs)
			}
			idx := g.take(n, issued, &rr)
			issued += n
			if len(idx) == 0 {
				<-slots
				g.unsent.Add(int64(n))
				continue
			}
			first := req % len(g.clients)
			req++
			senders.Add(1)
			go func() {
				defer senders.Done()
				defer func() { <-slots }()
				g.send(ctx, first, idx)
			}()
			continue
		}
		wait := min(time.Duration(g.schedAt(issued)-now), dispatchSleepMax)
		timer.Reset(max(wait, 0))
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}

// take assigns the next n tokens (from token first) to txs, one account
// after another; an account that has spent its run is skipped.
func (g *Generator) take(n, first int, rr *int) []int32 {
	idx := make([]int32, 0, n)
	warmupNs := int64(g.cfg.Warmup)
	for t := 0; t < n; t++ {
		for range len(g.accts) {
			a := &g.accts[*rr]
			*rr = (*rr + 1) % len(g.accts)
			if a.next < a.count {
				i := a.first + a.next
				a.next++
				g.recs[i].dueNs = g.schedAt(first + t)
				g.recs[i].warmup = g.recs[i].dueNs < warmupNs
				idx = append(idx, i)
				break
			}
		}
	}
	return idx
}

// Resubmission of txs a node refused for a reason that passes.
const (
	// resubmitBackoffMin and resubmitBackoffMax bound the wait before a
	// refused tx is offered again; it doubles with each refusal.
	resubmitBackoffMin = 100 * time.Millisecond
	resubmitBackoffMax = time.Second
	// resubmitRoundsMax bounds the offers of one tx.
	resubmitRoundsMax = 20
)

// passingRejection reports whether a node refused a tx for a reason that
// passes: its pool, or the sender's share of it, is full; an earlier
// nonce of the sender has not reached it yet; or it cannot take txs now.
// A wallet offers such a tx again later. Giving up on it would leave a
// nonce gap that strands every later tx of its account, so that one
// overloaded second would cost the rest of the run.
func passingRejection(code int) bool {
	switch code {
	case rpc.CodeMempoolFull, rpc.CodeTxSenderLimit, rpc.CodeTxNonceGap, rpc.CodeUnavailable:
		return true
	}
	return false
}

// send submits the txs idx as one request (a batch if more than one) to
// client first and records what came back. A tx refused for a passing
// reason (passingRejection) is offered again after a backoff, at most
// resubmitRoundsMax times and until half the grace period after the
// schedule ends (the other half is left for it to commit). It keeps its
// request slot meanwhile, so an overloaded network also slows the
// generator (unsent txs then show it). Its latency still runs from its
// time in the schedule.
func (g *Generator) send(ctx context.Context, first int, idx []int32) {
	g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	raw := make([][]byte, len(idx))
	now := g.since()
	g.mu.Lock()
	for k, i := range idx {
		r := &g.recs[i]
		raw[k], r.raw = r.raw, nil
		r.state, r.sentNs = stateSent, now
	}
	g.mu.Unlock()
	// Encoded outside the lock every sender and the watcher share.
	raws := make(map[int32]string, len(idx))
	for k, i := range idx {
		raws[i] = "0x" + hex.EncodeToString(raw[k])
	}
	g.sent.Add(int64(len(idx)))
	offersEnd := int64(g.cfg.Warmup + g.cfg.Duration + g.cfg.Grace/2)
	backoff := resubmitBackoffMin
	for round := 0; len(idx) > 0; round++ {
		final := round+1 >= resubmitRoundsMax || g.since()+int64(backoff) > offersEnd
		idx = g.submit(ctx, first+round, idx, raws, round > 0, final)
		if len(idx) == 0 {
			return
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			g.record(idx, make([]crypto.Hash, len(idx)), sameErr(len(idx), ctx.Err()))
			return
		}
		g.resubmitted.Add(int64(len(idx)))
		backoff = min(2*backoff, resubmitBackoffMax)
	}
}

// submit offers the txs idx to client first and records their outcomes.
// A tx that got no answer at all (the node is down or unreachable) is
// offered to the next node at once, as a wallet would: a signed tx is
// valid wherever it lands. Unless final, the txs refused for a passing
// reason are returned unrecorded, to be offered again. On a resubmission,
// or on another node after one gave no answer, a duplicate answer means
// the tx got in after all (a node took it from gossip, or the silent node
// took it before failing to reply), so it counts as acknowledged.
func (g *Generator) submit(ctx context.Context, first int, idx []int32, raws map[int32]string, resubmission, final bool) []int32 {
	var later []int32
	for attempt := 0; attempt < len(g.clients) && len(idx) > 0 && ctx.Err() == nil; attempt++ {
		c := g.clients[(first+attempt)%len(g.clients)]
		g.requests.Add(1)
		hashes, errs := g.call(ctx, c, idx, raws)
		var retry []int32
		var done []int32
		var doneHashes []crypto.Hash
		var doneErrs []error
		for k, i := range idx {
			code := client.ErrorCode(errs[k])
			switch {
			case errs[k] != nil && code == 0 && attempt+1 < len(g.clients):
				retry = append(retry, i)
				continue
			case !final && passingRejection(code):
				later = append(later, i)
				continue
			case (resubmission || attempt > 0) && code == rpc.CodeTxDuplicate:
				hashes[k], errs[k] = g.recs[i].hash, nil
			}
			done, doneHashes, doneErrs = append(done, i), append(doneHashes, hashes[k]), append(doneErrs, errs[k])
		}
		g.record(done, doneHashes, doneErrs)
		idx = retry
	}
	return later
}

func sameErr(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// call sends one request for the txs idx to c.
func (g *Generator) call(ctx context.Context, c *client.Client, idx []int32, raws map[int32]string) ([]crypto.Hash, []error) {
	hashes := make([]crypto.Hash, len(idx))
	errs := make([]error, len(idx))
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if len(idx) == 1 {
		errs[0] = c.Call(rctx, &hashes[0], "synod_sendRawTransaction", raws[idx[0]])
		return hashes, errs
	}
	calls := make([]client.BatchElem, len(idx))
	for k, i := range idx {
		calls[k] = client.BatchElem{Method: "synod_sendRawTransaction", Params: []any{raws[i]}, Result: &hashes[k]}
	}
	err := c.BatchCall(rctx, calls)
	for k := range calls {
		errs[k] = calls[k].Error
		if err != nil {
			errs[k] = err
		}
	}
	return hashes, errs
}

// record stores each tx's outcome.
func (g *Generator) record(idx []int32, hashes []crypto.Hash, errs []error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, i := range idx {
		r := &g.recs[i]
		err := errs[k]
		if err == nil && hashes[k] != r.hash {
			err = fmt.Errorf("node returned hash %s for tx %s", hashes[k], r.hash)
		}
		switch code := client.ErrorCode(err); {
		case err == nil:
			r.state = stateAcked
			g.acked.Add(1)
			if r.commits == 0 {
				g.pendingAcked++
			}
		case code != 0:
			r.state = stateRejected
			g.rejected.Add(1)
			g.rejectedByCode[code]++
		default:
			r.state = stateFailed
			g.failed.Add(1)
		}
	}
}

// markCommitted notes that the tx with hash h is in the block at height,
// known committed at atNs.
func (g *Generator) markCommitted(h crypto.Hash, height uint64, atNs int64) {
	i, ok := g.byHash[h]
	g.mu.Lock()
	defer g.mu.Unlock()
	if !ok {
		g.foreignTxs++
		return
	}
	r := &g.recs[i]
	if r.commits < 255 {
		r.commits++
	}
	if r.commits > 1 {
		g.duplicates++
		return
	}
	r.commitNs, r.height = atNs, height
	g.committed.Add(1)
	if r.state == stateAcked {
		g.pendingAcked--
	}
}

// awaitCommits waits until every acknowledged tx committed, or until the
// deadline (nanoseconds since the start) passes.
func (g *Generator) awaitCommits(ctx context.Context, deadline time.Duration) {
	for ctx.Err() == nil && g.since() < int64(deadline) {
		g.mu.Lock()
		left := g.pendingAcked
		g.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-time.After(drainPoll):
		case <-ctx.Done():
		}
	}
}

// progress writes one line a second until ctx ends.
func (g *Generator) progress(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := int64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c := g.committed.Load()
		g.mu.Lock()
		pending := g.pendingAcked
		g.mu.Unlock()
		fmt.Fprintf(g.cfg.Progress, "[%5.1fs] sent %d acked %d rejected %d resubmitted %d failed %d unsent %d committed %d pending %d in-flight %d height %d  %d tx/s\n",
			time.Duration(g.since()).Seconds(), g.sent.Load(), g.acked.Load(), g.rejected.Load(), g.resubmitted.Load(), g.failed.Load(),
			g.unsent.Load(), c, pending, g.inFlight.Load(), g.head.Load(), c-last)
		last = c
	}
}
