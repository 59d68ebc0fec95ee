package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// startFake serves the fake backend of rpctest on a loopback port and
// returns its URL.
func startFake(t *testing.T, autoCommit bool) (*rpctest.Backend, string) {
	t.Helper()
	b, err := rpctest.New()
	if err != nil {
		t.Fatal(err)
	}
	b.AutoCommit = autoCommit
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.Config{}, b, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		b.Close()
	})
	return b, "http://" + l.Addr().String()
}

func fakeKeys() []crypto.PrivateKey {
	keys := make([]crypto.PrivateKey, rpctest.FundedAccounts)
	for i := range keys {
		keys[i] = rpctest.Key(i)
	}
	return keys
}

func runOnce(t *testing.T, cfg Config) (*Generator, *Result) {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := g.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return g, res
}

// TestRunCommitsEveryTx offers 50 tx/s for a second to a chain that
// commits each tx at once, one request at a time and in batches, and
// checks that every tx is acknowledged, committed once and measured.
func TestRunCommitsEveryTx(t *testing.T) {
	for _, batch := range []int{1, 5} {
		t.Run("batch"+strconv.Itoa(batch), func(t *testing.T) {
			_, url := startFake(t, true)
			var progress bytes.Buffer
			g, res := runOnce(t, Config{RPC: []string{url}, Rate: 50, Duration: time.Second, Warmup: 200 * time.Millisecond,
				Grace: 5 * time.Second, Keys: fakeKeys(), InFlightMax: 1, SendLagMax: 10 * time.Second, BatchTxs: batch, TxBytes: 250, Seed: 7, Progress: &progress})
			if res.Planned != 60 || res.Submitted != 60 || res.Acknowledged != 60 || res.Committed != 60 {
				t.Fatalf("planned %d submitted %d acked %d committed %d, want 60 each", res.Planned, res.Submitted, res.Acknowledged, res.Committed)
			}
			if res.Lost != 0 || res.Rejected != 0 || res.Failed != 0 || res.Unsent != 0 || res.Duplicates != 0 {
				t.Fatalf("lost %d rejected %d failed %d unsent %d duplicates %d", res.Lost, res.Rejected, res.Failed, res.Unsent, res.Duplicates)
			}
			if res.Latency.Count != 50 {
				t.Fatalf("latency of %d txs, want the 50 of the window", res.Latency.Count)
			}
			if res.TxBytes != 250 {
				t.Fatalf("tx size %d, want 250", res.TxBytes)
			}
			if !res.Sustained(time.Second) {
				t.Fatalf("not sustained: %+v", res)
			}
			committed := g.Committed()
			for _, h := range g.Acknowledged() {
				if committed[h] != 1 {
					t.Fatalf("tx %s committed %d times", h, committed[h])
				}
			}
			if !strings.Contains(progress.String(), "committed") {
				t.Fatalf("no progress line: %q", progress.String())
			}
		})
	}
}

// TestBatchWaitFillsRequests offers 61 txs at 61 tx/s in batches of 3
// (the fake backend funds 3 accounts, so a batch never holds two txs of
// one account): without a batch wait most requests leave with the one tx
// due; with one longer than a batch takes to fill, every request but the
// last carries 3 and the last the 1 left, and the latency runs from each
// tx's time in the schedule, so a batch's first tx shows the ~33 ms it
// waited.
func TestBatchWaitFillsRequests(t *testing.T) {
	for _, wait := range []time.Duration{0, 200 * time.Millisecond} {
		t.Run(wait.String(), func(t *testing.T) {
			_, url := startFake(t, true)
			_, res := runOnce(t, Config{RPC: []string{url}, Rate: 61, Duration: time.Second, Grace: 5 * time.Second,
				Keys: fakeKeys(), InFlightMax: 1, SendLagMax: 10 * time.Second, BatchTxs: 3, BatchWait: wait})
			if res.Submitted != 61 || res.Committed != 61 || res.Latency.Count != 61 {
				t.Fatalf("submitted %d committed %d measured %d, want 61 each (rejected %v, failed %d, lost %d)",
					res.Submitted, res.Committed, res.Latency.Count, res.RejectedByCode, res.Failed, res.Lost)
			}
			if wait == 0 {
				if res.Requests <= 40 {
					t.Fatalf("%d requests without a batch wait, want most txs sent as they fall due", res.Requests)
				}
				return
			}
			if res.Requests != 21 {
				t.Fatalf("%d requests, want 20 of 3 txs and one of 1", res.Requests)
			}
			if res.Latency.MaxMs < 25 {
				t.Fatalf("max latency %.1f ms, want the ~33 ms a batch's first tx waited", res.Latency.MaxMs)
			}
		})
	}
}

// TestRunCountsRejectedAndLost offers 100 txs to a pool of 64 that never
// commits: the rest are rejected by code, and every acknowledged tx is
// lost after the grace period.
func TestRunCountsRejectedAndLost(t *testing.T) {
	_, url := startFake(t, false)
	_, res := runOnce(t, Config{RPC: []string{url}, Rate: 100, Duration: time.Second, Grace: 300 * time.Millisecond,
		Keys: fakeKeys(), InFlightMax: 1, SendLagMax: 10 * time.Second})
	if res.Acknowledged != rpctest.PoolTxsMax || res.Lost != rpctest.PoolTxsMax {
		t.Fatalf("acked %d lost %d, want %d each (rejected %v, unsent %d, failed %d)", res.Acknowledged, res.Lost, rpctest.PoolTxsMax, res.RejectedByCode, res.Unsent, res.Failed)
	}
	byCode := 0
	for _, n := range res.RejectedByCode {
		byCode += n
	}
	if res.Rejected != 100-rpctest.PoolTxsMax || byCode != res.Rejected {
		t.Fatalf("rejected %d (by code %v), want %d", res.Rejected, res.RejectedByCode, 100-rpctest.PoolTxsMax)
	}
	if res.RejectedByCode[strconv.Itoa(rpc.CodeMempoolFull)] == 0 {
		t.Fatalf("no mempool-full rejection in %v", res.RejectedByCode)
	}
	if res.Sustained(time.Second) {
		t.Fatal("a run that lost txs counts as sustained")
	}
	var out bytes.Buffer
	if err := res.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.Lost != res.Lost {
		t.Fatalf("JSON round trip: %v, lost %d", err, back.Lost)
	}
}

// TestRunResubmitsRefusedTxs offers 200 txs in a second to a pool of 64
// that commits only every 500 ms: the txs refused because the pool is full (or
// because an earlier nonce of their account was refused) are offered
// again until they get in, so every tx commits, none counts as rejected,
// and the run is not sustained because the network pushed back. Without
// resubmission the first refusal would strand its account's later txs.
func TestRunResubmitsRefusedTxs(t *testing.T) {
	b, url := startFake(t, false)
	stop := make(chan struct{})
	committerDone := make(chan struct{})
	go func() {
		defer close(committerDone)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := b.Commit(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-committerDone }()
	// One request at a time keeps each account's refused txs in nonce
	// order when they are offered again; offers go on for 5 s (half the
	// grace) after the schedule, where the pool takes 64 txs a commit.
	_, res := runOnce(t, Config{RPC: []string{url}, Rate: 200, Duration: time.Second, Grace: 10 * time.Second,
		Keys: fakeKeys(), InFlightMax: 1, SendLagMax: 10 * time.Second})
	if res.Acknowledged != 200 || res.Committed != 200 || res.Rejected != 0 || res.Lost != 0 || res.Failed != 0 {
		t.Fatalf("acked %d committed %d rejected %d (%v) lost %d failed %d, want 200 acked and committed, nothing else",
			res.Acknowledged, res.Committed, res.Rejected, res.RejectedByCode, res.Lost, res.Failed)
	}
	if res.Resubmitted == 0 {
		t.Fatal("no tx was offered again, yet the pool of 64 was offered 100 txs within a commit interval")
	}
	if res.Sustained(time.Minute) {
		t.Fatal("a run the network pushed back on counts as sustained")
	}
	var out bytes.Buffer
	if err := res.WriteText(&out, time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "resubmitted="+strconv.Itoa(res.Resubmitted)) {
		t.Fatalf("summary line lacks the resubmissions:\n%s", out.String())
	}
}

// TestPassingRejection pins which refusals are offered again: those that
// pass with time, and none that would fail the same way again.
func TestPassingRejection(t *testing.T) {
	passing := map[int]bool{rpc.CodeMempoolFull: true, rpc.CodeTxSenderLimit: true, rpc.CodeTxNonceGap: true, rpc.CodeUnavailable: true}
	for _, code := range []int{rpc.CodeMempoolFull, rpc.CodeTxSenderLimit, rpc.CodeTxNonceGap, rpc.CodeUnavailable,
		rpc.CodeTxRejected, rpc.CodeTxMalformed, rpc.CodeTxBadSignature, rpc.CodeTxNonceTooLow, rpc.CodeTxInsufficientFunds,
		rpc.CodeTxDuplicate, rpc.CodeTxUnderpriced, rpc.CodeInvalidParams, 0} {
		if got := passingRejection(code); got != passing[code] {
			t.Errorf("passingRejection(%d) = %v, want %v", code, got, passing[code])
		}
	}
}

// TestReportGeneratorCPU checks the report's line on the generator's own
// CPU: left out when nobody measured it, in cores and per tx when set.
func TestReportGeneratorCPU(t *testing.T) {
	r := &Result{ElapsedSec: 10, Submitted: 20_000, Latency: LatencySummary{Count: 1}}
	var out bytes.Buffer
	if err := r.WriteText(&out, time.Second); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "generator") {
		t.Fatalf("unmeasured CPU reported:\n%s", out.String())
	}
	r.ProcessCPUSec = 2.5
	out.Reset()
	if err := r.WriteText(&out, time.Second); err != nil {
		t.Fatal(err)
	}
	want := "  generator   0.25 cores over 10.0 s, 125.0 µs per submitted tx\n"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("want %q in:\n%s", want, out.String())
	}
	if !strings.HasPrefix(out.String()[strings.Index(out.String(), want)+len(want):], "summary ") {
		t.Fatalf("the summary line must stay last:\n%s", out.String())
	}
}

// TestPrepareIsDeterministic signs the same schedule twice with one seed
// and checks the txs are identical, and differ under another seed.
func TestPrepareIsDeterministic(t *testing.T) {
	_, url := startFake(t, false)
	hashes := func(seed uint64) []crypto.Hash {
		g, err := New(Config{RPC: []string{url}, Rate: 30, Duration: time.Second, Keys: fakeKeys(), Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Prepare(context.Background()); err != nil {
			t.Fatal(err)
		}
		var hs []crypto.Hash
		for _, r := range g.recs {
			hs = append(hs, r.hash)
		}
		return hs
	}
	a, b, c := hashes(1), hashes(1), hashes(2)
	if len(a) != 30 {
		t.Fatalf("%d txs signed, want 30", len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("tx %d differs under the same seed", i)
		}
	}
	if a[0] == c[0] {
		t.Fatal("another seed gave the same tx")
	}
}

// TestConfigValidate checks that each bad field is refused with a message
// naming it.
func TestConfigValidate(t *testing.T) {
	good := func() Config {
		return Config{RPC: []string{"http://127.0.0.1:1"}, Rate: 10, Duration: time.Second, Keys: fakeKeys()}
	}
	cases := map[string]func(*Config){
		"no RPC URL":     func(c *Config) { c.RPC = nil },
		"rate":           func(c *Config) { c.Rate = 0 },
		"duration":       func(c *Config) { c.Duration = 0 },
		"accounts":       func(c *Config) { c.Keys = nil },
		"tx size":        func(c *Config) { c.TxBytes = 100_000 },
		"must start":     func(c *Config) { c.RPC = []string{"127.0.0.1:8545"} },
		"given twice":    func(c *Config) { c.Keys = append(c.Keys, c.Keys[0]) },
		"at most":        func(c *Config) { c.Rate, c.Duration = 100_000, time.Hour },
		"batch":          func(c *Config) { c.BatchTxs = BatchTxsMax + 1 },
		"in-flight":      func(c *Config) { c.InFlightMax = -1 },
		"amount max":     func(c *Config) { c.AmountMax = AmountMax + 1 },
		"warmup":         func(c *Config) { c.Warmup = -time.Second },
		"grace":          func(c *Config) { c.Grace = GraceMax + time.Second },
		"send lag":       func(c *Config) { c.SendLagMax = time.Hour },
		"batch wait":     func(c *Config) { c.BatchWait = -time.Millisecond },
		"below the send": func(c *Config) { c.BatchWait, c.SendLagMax = 500*time.Millisecond, 500*time.Millisecond },
		"key 0 is zero":  func(c *Config) { c.Keys = []crypto.PrivateKey{{}} },
	}
	if _, err := New(good()); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
	for want, mutate := range cases {
		c := good()
		mutate(&c)
		_, err := New(c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

// TestSummarize checks nearest-rank percentiles on 1..100 ms.
func TestSummarize(t *testing.T) {
	var lat []int64
	for i := 100; i >= 1; i-- {
		lat = append(lat, int64(i)*int64(time.Millisecond))
	}
	s := Summarize(lat)
	if s.Count != 100 || s.P50Ms != 50 || s.P90Ms != 90 || s.P99Ms != 99 || s.MaxMs != 100 || s.MeanMs != 50.5 {
		t.Fatalf("%+v", s)
	}
	if (Summarize(nil) != LatencySummary{}) {
		t.Fatal("empty input must give a zero summary")
	}
}

// TestRetryElsewhereCountsDuplicateAsAcknowledged offers txs to two nodes,
// the first of which passes each tx on to the chain (it reaches the chain) but drops
// the connection before replying, as a node that dies mid-request does.
// The generator then offers the tx to the second node, which answers that
// it already has it: the tx got in, so it is acknowledged, measured and
// not counted as rejected.
func TestRetryElsewhereCountsDuplicateAsAcknowledged(t *testing.T) {
	_, url := startFake(t, true)
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		if !bytes.Contains(body, []byte("synod_sendRawTransaction")) {
			forward(t, w, url, body)
			return
		}
		// The tx reaches the node; its answer does not reach the generator.
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}))
	defer drop.Close()
	// Requests alternate between the nodes, the dropping one first.
	_, res := runOnce(t, Config{RPC: []string{drop.URL, url}, WatchRPC: []string{url}, Rate: 20, Duration: 200 * time.Millisecond,
		Grace: 5 * time.Second, Keys: fakeKeys(), InFlightMax: 1, SendLagMax: 10 * time.Second})
	if res.Submitted != 4 || res.Committed != 4 {
		t.Fatalf("submitted %d committed %d, want 4 each", res.Submitted, res.Committed)
	}
	if res.Acknowledged != 4 || res.Rejected != 0 || res.CommittedUnacked != 0 || res.Latency.Count != 4 {
		t.Fatalf("acked %d rejected %d (%v) committed unacked %d measured %d, want 4 acked and measured, none rejected",
			res.Acknowledged, res.Rejected, res.RejectedByCode, res.CommittedUnacked, res.Latency.Count)
	}
	if res.Requests != 6 {
		t.Fatalf("%d requests, want 6 (two txs retried on the second node)", res.Requests)
	}
}

// frozenProxy relays TCP connections to a node until frozen; from then
// on it holds what it reads and accepts new connections without serving
// them, as a node stopped with SIGSTOP does (its sockets stay open).
type frozenProxy struct {
	l      net.Listener
	target string
	frozen atomic.Bool
	done   chan struct{}
	mu     sync.Mutex
	conns  []net.Conn
}

func startFrozenProxy(t *testing.T, targetURL string) *frozenProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &frozenProxy{l: l, target: strings.TrimPrefix(targetURL, "http://"), done: make(chan struct{})}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(p.done)
		l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.keep(c)
			if p.frozen.Load() {
				continue
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.keep(up)
			wg.Add(2)
			go func() { defer wg.Done(); p.pipe(up, c) }()
			go func() { defer wg.Done(); p.pipe(c, up) }()
		}
	}()
	return p
}

func (p *frozenProxy) keep(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *frozenProxy) url() string { return "http://" + p.l.Addr().String() }

func (p *frozenProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		for p.frozen.Load() {
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

// TestWatcherLeavesFrozenNode freezes the node whose blocks the
// generator follows early in the run, its connections left open: the
// watcher must give up on it and follow the next node, so that the txs
// committed meanwhile count as committed, not lost.
func TestWatcherLeavesFrozenNode(t *testing.T) {
	_, url := startFake(t, true)
	p := startFrozenProxy(t, url)
	g, err := New(Config{RPC: []string{url}, WatchRPC: []string{p.url(), url}, Rate: 20, Duration: time.Second,
		Grace: 9 * time.Second, Keys: fakeKeys(), InFlightMax: 1, SendLagMax: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	freeze := time.AfterFunc(400*time.Millisecond, func() { p.frozen.Store(true) })
	defer freeze.Stop()
	res, err := g.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Acknowledged != 20 || res.Committed != 20 || res.Lost != 0 || res.Latency.Count != 20 {
		t.Fatalf("acked %d committed %d lost %d measured %d, want 20 acked, committed and measured (watch errors %q)",
			res.Acknowledged, res.Committed, res.Lost, res.Latency.Count, res.WatchErrors)
	}
	if len(res.WatchErrors) == 0 {
		t.Fatal("no watch error reported, yet the watched node froze")
	}
}

// TestRunEndsAtGraceWithAHungNode sends every tx to a node that reads
// requests and never answers them (wedged, or paused with its sockets
// open): the run must still end at its schedule plus the grace period,
// the unanswered txs counted as failed, rather than wait out each
// request's own timeout. The test's 10-s context only catches a hang;
// the run itself is planned to last half a second.
func TestRunEndsAtGraceWithAHungNode(t *testing.T) {
	_, url := startFake(t, true)
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if bytes.Contains(body, []byte("synod_sendRawTransaction")) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		forward(t, w, url, body)
	}))
	defer hung.Close()
	defer close(release)
	g, err := New(Config{RPC: []string{hung.URL}, WatchRPC: []string{url}, Rate: 20, Duration: 200 * time.Millisecond,
		Grace: 300 * time.Millisecond, Keys: fakeKeys(), SendLagMax: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := g.Run(ctx)
	if err != nil {
		t.Fatalf("the run did not end by itself at its schedule plus grace: %v", err)
	}
	if res.Submitted != 4 || res.Failed != 4 || res.Acknowledged != 0 {
		t.Fatalf("submitted %d failed %d acked %d, want the 4 txs submitted and failed", res.Submitted, res.Failed, res.Acknowledged)
	}
}

// TestPrepareRefusesAnUnsignableChainID points the generator at a node
// whose status names a chain id longer than a signing payload holds (a
// buggy or hostile node): signing treats that as a programmer error and
// panics, so Prepare must refuse the node's answer with an error first.
func TestPrepareRefusesAnUnsignableChainID(t *testing.T) {
	_, url := startFake(t, false)
	long := strings.Repeat("c", crypto.ChainIDBytesMax+1)
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if bytes.Contains(body, []byte("synod_status")) {
			answerStatus(w, body, rpc.NodeStatus{ChainID: long})
			return
		}
		forward(t, w, url, body)
	}))
	defer node.Close()
	g, err := New(Config{RPC: []string{node.URL}, Rate: 10, Duration: time.Second, Keys: fakeKeys()})
	if err != nil {
		t.Fatal(err)
	}
	err = g.Prepare(context.Background())
	if err == nil || !strings.Contains(err.Error(), "chain id") {
		t.Fatalf("Prepare: %v, want a refusal of the node's chain id", err)
	}
}

// TestPrepareRefusesAnUnreachableTxSize: the memo pads a tx from its
// size without a memo (154 bytes on the test chain) up to that plus
// ledger.TxMemoBytesMax (410); a size outside that range used to be
// signed at the nearest end of it, so a run asked for 100- or 500-byte
// txs measured others. Prepare refuses such a size, naming the range,
// and gives each end of the range exactly.
func TestPrepareRefusesAnUnreachableTxSize(t *testing.T) {
	_, url := startFake(t, false)
	prepare := func(size int) (*Generator, error) {
		g, err := New(Config{RPC: []string{url}, Rate: 3, Duration: time.Second, Keys: fakeKeys(), TxBytes: size})
		if err != nil {
			t.Fatal(err)
		}
		return g, g.Prepare(context.Background())
	}
	bare := len((&ledger.Tx{ChainID: rpctest.ChainID}).Encode())
	for _, size := range []int{1, bare - 1, bare + ledger.TxMemoBytesMax + 1, ledger.TxBytesMax} {
		_, err := prepare(size)
		var se *SettingError
		if !errors.As(err, &se) || se.Field != "TxBytes" || !strings.Contains(err.Error(), fmt.Sprintf("not in %d..%d", bare, bare+ledger.TxMemoBytesMax)) {
			t.Errorf("tx size %d: %v, want a TxBytes refusal naming %d..%d", size, err, bare, bare+ledger.TxMemoBytesMax)
		}
	}
	for _, size := range []int{0, bare, bare + ledger.TxMemoBytesMax} {
		g, err := prepare(size)
		if err != nil {
			t.Fatalf("tx size %d: %v", size, err)
		}
		if want := max(size, bare); g.TxBytes() != want {
			t.Errorf("tx size %d gave %d-byte txs, want %d", size, g.TxBytes(), want)
		}
	}
}

// TestPrepareRefusesAnAccountThatCannotPay: a keystore key the chain
// never funded (rpctest funds keys 0..2, not 3), or a fee no balance
// covers, used to start the run anyway: every tx of such an account was
// refused (insufficient funds), its later ones held request slots being
// offered again for a nonce gap, and the measurement of the funded ones
// suffered. Prepare refuses such an account by address.
func TestPrepareRefusesAnAccountThatCannotPay(t *testing.T) {
	_, url := startFake(t, false)
	unfunded := rpctest.Key(rpctest.FundedAccounts)
	for name, cfg := range map[string]Config{
		"unfunded": {Keys: append(fakeKeys(), unfunded)},
		"fee":      {Keys: fakeKeys(), Fee: rpctest.InitialBalance},
	} {
		cfg.RPC, cfg.Rate, cfg.Duration = []string{url}, 8, time.Second
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = g.Prepare(context.Background())
		if err == nil || !strings.Contains(err.Error(), "cannot pay") {
			t.Errorf("%s: Prepare %v, want a refusal of the account that cannot pay", name, err)
		}
		if name == "unfunded" && (err == nil || !strings.Contains(err.Error(), unfunded.Public().Address().String())) {
			t.Errorf("unfunded: %v does not name %s", err, unfunded.Public().Address())
		}
	}
}

// TestPrepareChecksEveryNode: a second --rpc URL that does not answer, or
// answers for another chain, is refused before the run; it used to take
// its share of the txs and fail or refuse them all.
func TestPrepareChecksEveryNode(t *testing.T) {
	_, url := startFake(t, false)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		answerStatus(w, body, rpc.NodeStatus{ChainID: "other-chain"})
	}))
	defer other.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // its address now refuses connections
	for _, c := range []struct {
		second, want string
	}{
		{other.URL, `on chain "other-chain"`},
		{dead.URL, "status of " + dead.URL},
	} {
		g, err := New(Config{RPC: []string{url, c.second}, Rate: 10, Duration: time.Second, Keys: fakeKeys()})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Prepare(context.Background()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("second node %s: Prepare: %v, want %q", c.second, err, c.want)
		}
	}
	g, err := New(Config{RPC: []string{url, url}, Rate: 10, Duration: time.Second, Keys: fakeKeys()})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Prepare(context.Background()); err != nil {
		t.Fatalf("two URLs of one chain: %v", err)
	}
}

// forward posts body, a request a proxy in front of the fake node at url
// received, to that node and copies the node's answer to w.
func forward(t *testing.T, w http.ResponseWriter, url string, body []byte) {
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.Copy(w, resp.Body)
}

// answerStatus answers the request in body, whatever its method, with st
// as its result: a node that says what a test needs it to say.
func answerStatus(w http.ResponseWriter, body []byte, st rpc.NodeStatus) {
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(body, &req)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": st})
}
