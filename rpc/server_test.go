package rpc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// rejectingBackend answers SubmitTx with a fixed error.
type rejectingBackend struct {
	*rpctest.Backend
	err error
}

func (b rejectingBackend) SubmitTx(*ledger.Tx) error { return b.err }

// codedErr is a mempool-style error that names its own RPC code.
type codedErr struct{ code int }

func (e codedErr) Error() string { return fmt.Sprintf("mempool says no (%d)", e.code) }
func (e codedErr) RPCCode() int  { return e.code }

func TestTxRejectionCodes(t *testing.T) {
	// Goal: every rejection reason a backend can give maps to its own
	// documented code, through wrapping, sentinels and the RPCCoder hook,
	// and a hook cannot claim a protocol code; method: a backend that
	// refuses every tx with a chosen error, one request per case.
	b := newChain(t).backend
	raw := rawTx(rpctest.Transfer(2, 0, rpctest.Address(0), 100, 1))
	cases := []struct {
		err  error
		code int
	}{
		{fmt.Errorf("mempool: %w", ledger.ErrTxBadSignature), rpc.CodeTxBadSignature},
		{fmt.Errorf("%w: key", ledger.ErrTxBadSender), rpc.CodeTxBadSignature},
		{fmt.Errorf("%w: x", ledger.ErrTxWrongChain), rpc.CodeTxWrongChain},
		{ledger.ErrTxNonceTooLow, rpc.CodeTxNonceTooLow},
		{ledger.ErrTxNonceGap, rpc.CodeTxNonceGap},
		{ledger.ErrTxInsufficientFunds, rpc.CodeTxInsufficientFunds},
		{ledger.ErrTxAmountOverflow, rpc.CodeTxAmountOverflow},
		{ledger.ErrTxTooLarge, rpc.CodeTxTooLarge},
		{ledger.ErrTxMemoTooLarge, rpc.CodeTxTooLarge},
		{fmt.Errorf("decode: %w", ledger.ErrMalformed), rpc.CodeTxMalformed},
		{fmt.Errorf("node: %w", rpc.ErrMempoolFull), rpc.CodeMempoolFull},
		{rpc.ErrTxDuplicate, rpc.CodeTxDuplicate},
		{rpc.ErrTxUnderpriced, rpc.CodeTxUnderpriced},
		{rpc.ErrTxSenderLimit, rpc.CodeTxSenderLimit},
		{rpc.ErrNotInitialized, rpc.CodeUnavailable},
		{fmt.Errorf("wrapped: %w", codedErr{rpc.CodeMempoolFull}), rpc.CodeMempoolFull},
		{codedErr{-32099}, -32099},
		{codedErr{rpc.CodeParseError}, rpc.CodeTxRejected}, // outside the app range: ignored
		{errors.New("disk on fire"), rpc.CodeTxRejected},
	}
	for _, tc := range cases {
		_, url := startServer(t, rpc.Config{}, rejectingBackend{b, tc.err})
		r := call(t, url, "synod_sendRawTransaction", raw)
		if r.Error == nil || r.Error.Code != tc.code {
			t.Errorf("%v: got %+v, want code %d", tc.err, r.Error, tc.code)
			continue
		}
		if !strings.Contains(r.Error.Message, tc.err.Error()) {
			t.Errorf("%v: message %q does not say why", tc.err, r.Error.Message)
		}
	}
}

func TestMempoolFull(t *testing.T) {
	// Goal: a full pool answers CodeMempoolFull and the server keeps
	// serving; method: fill the fake pool (PoolTxsMax) with valid txs.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{}, f.backend)
	var last rpcResponse
	for nonce := uint64(0); nonce <= rpctest.PoolTxsMax; nonce++ {
		tx := rpctest.Transfer(2, nonce, rpctest.Address(0), 1, 1)
		last = call(t, url, "synod_sendRawTransaction", rawTx(tx))
		if last.Error != nil {
			break
		}
	}
	if last.Error == nil || last.Error.Code != rpc.CodeMempoolFull {
		t.Fatalf("last answer %+v, want mempool full", last.Error)
	}
	if r := call(t, url, "synod_blockNumber"); r.Error != nil {
		t.Fatalf("server stopped serving: %+v", r.Error)
	}
}

func TestHTTPLimitsAndMethods(t *testing.T) {
	// Goal: a huge body, an oversized batch, a wrong content type and a
	// GET each get an HTTP status and a JSON-RPC error, and the server
	// keeps answering; method: small limits, raw requests.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{RequestBytesMax: 1024, BatchItemsMax: 3}, f.backend)

	status, body := post(t, url, `{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber","params":["`+strings.Repeat("x", 2048)+`"]}`)
	if r := decodeResponse(t, body); status != http.StatusRequestEntityTooLarge || r.Error == nil || r.Error.Code != rpc.CodeInvalidRequest {
		t.Errorf("huge body: %d %s", status, body)
	}
	batch := "[" + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber"},`, 4), ",") + "]"
	_, body = post(t, url, batch)
	if r := decodeResponse(t, body); r.Error == nil || r.Error.Code != rpc.CodeInvalidRequest || !strings.Contains(r.Error.Message, "exceeds the limit of 3") {
		t.Errorf("batch over limit: %s", body)
	}
	batch = "[" + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber"},`, 3), ",") + "]"
	if _, body = post(t, url, batch); strings.Count(body, `"result":2`) != 3 {
		t.Errorf("batch at limit: %s", body)
	}

	resp, err := http.Post(url, "text/plain", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: status %d", resp.StatusCode)
	}
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", resp.StatusCode)
	}
	if r := call(t, url, "synod_blockNumber"); string(r.Result) != "2" {
		t.Errorf("after the bad requests: %+v", r)
	}
}

func TestSubscribeNeedsWebSocket(t *testing.T) {
	// Goal: synod_subscribe and synod_unsubscribe over HTTP say where to
	// go instead; method: call both over POST.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{}, f.backend)
	for _, m := range []string{"synod_subscribe", "synod_unsubscribe"} {
		r := call(t, url, m, "newBlocks")
		if r.Error == nil || r.Error.Code != rpc.CodeMethodNotFound || !strings.Contains(r.Error.Message, "/ws") {
			t.Errorf("%s over HTTP: %+v", m, r.Error)
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	// Goal: /health is 200 while healthy and 503 with the reason when
	// not; /metrics serves the configured handler and is absent without
	// one; method: flip the fake's health.
	f := newChain(t)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "synod_height 2\n") })
	_, url := startServer(t, rpc.Config{Metrics: metrics}, f.backend)
	get := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/health"); code != 200 || body != "ok\n" {
		t.Errorf("healthy: %d %q", code, body)
	}
	f.backend.SetHealth(false, "syncing")
	if code, body := get("/health"); code != 503 || body != "syncing\n" {
		t.Errorf("syncing: %d %q", code, body)
	}
	f.backend.SetHealth(false, "stalled: no commit for 30s")
	if code, body := get("/health"); code != 503 || !strings.Contains(body, "stalled") {
		t.Errorf("stalled: %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || body != "synod_height 2\n" {
		t.Errorf("metrics: %d %q", code, body)
	}
	_, url2 := startServer(t, rpc.Config{}, f.backend)
	resp, err := http.Get(url2 + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("metrics without a handler: %d", resp.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	// Goal: no CORS headers unless origins are configured; then only for
	// those origins, with preflight; method: requests with Origin headers.
	f := newChain(t)
	do := func(url, method, origin string) *http.Response {
		req, _ := http.NewRequest(method, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	_, off := startServer(t, rpc.Config{}, f.backend)
	if h := do(off, http.MethodPost, "https://wallet.example").Header.Get("Access-Control-Allow-Origin"); h != "" {
		t.Errorf("CORS off sent Allow-Origin %q", h)
	}
	_, on := startServer(t, rpc.Config{CORSOrigins: []string{"https://wallet.example"}}, f.backend)
	if h := do(on, http.MethodOptions, "https://wallet.example").Header.Get("Access-Control-Allow-Origin"); h != "https://wallet.example" {
		t.Errorf("preflight from an allowed origin: %q", h)
	}
	if resp := do(on, http.MethodPost, "https://evil.example"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: %d %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestSlowlorisIsCutOff(t *testing.T) {
	// Goal: a client that dribbles its headers is disconnected after
	// ReadHeaderTimeout while others are served; method: a raw TCP
	// connection sends half a request line and waits (bounded).
	f := newChain(t)
	_, url := startServer(t, rpc.Config{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 400 * time.Millisecond}, f.backend)
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Ty"); err != nil {
		t.Fatal(err)
	}
	if r := call(t, url, "synod_blockNumber"); string(r.Result) != "2" {
		t.Errorf("another client was not served: %+v", r)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = bufio.NewReader(conn).ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("slow client still connected after %v", time.Since(start))
	}
	// A slow body is cut too (ReadTimeout).
	conn2, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	io.WriteString(conn2, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	_ = conn2.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(conn2)
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("slow body still connected")
	}
}

func TestOMReportOnlyWithReporter(t *testing.T) {
	// Goal: synod_omReport exists exactly when the backend implements
	// OMReporter; method: one server of each kind.
	f := newChain(t)
	srv, url := startServer(t, rpc.Config{}, rpctest.OMBackend{Backend: f.backend})
	found := false
	for _, m := range srv.Methods() {
		found = found || m == "synod_omReport"
	}
	if !found {
		t.Fatalf("methods %v lack synod_omReport", srv.Methods())
	}
	r := call(t, url, "synod_omReport", 1)
	if r.Error != nil || !strings.Contains(string(r.Result), `"height":1`) {
		t.Errorf("omReport: %s %+v", r.Result, r.Error)
	}
	if r := call(t, url, "synod_omReport", "soon"); r.Error == nil || r.Error.Code != rpc.CodeInvalidParams {
		t.Errorf("bad tag: %+v", r.Error)
	}
	if r := call(t, url, "synod_omReport", 50); r.Error != nil || string(r.Result) != "null" {
		t.Errorf("no report: %s %+v", r.Result, r.Error)
	}
}

func TestShutdownRefusesNewWork(t *testing.T) {
	// Goal: after Shutdown, Serve has returned and new connections fail;
	// method: shut down explicitly, then dial.
	f := newChain(t)
	srv := rpc.NewServer(rpc.Config{}, f.backend, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	url := "http://" + l.Addr().String()
	if r := call(t, url, "synod_blockNumber"); r.Error != nil {
		t.Fatal(r.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return")
	}
	if _, err := http.Post(url, "application/json", strings.NewReader("{}")); err == nil {
		t.Error("server still accepts requests after Shutdown")
	}
}

func TestDecimalAndBlockTag(t *testing.T) {
	// Goal: the wire number types accept exactly what the README says;
	// method: table of inputs.
	for _, s := range []string{"0", "18446744073709551615"} {
		if _, err := rpc.ParseDecimal(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "-1", "+1", "1.0", "0x10", " 1", "18446744073709551616"} {
		if _, err := rpc.ParseDecimal(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	var tag rpc.BlockTag
	if err := tag.UnmarshalJSON([]byte(`"latest"`)); err != nil || !tag.Latest {
		t.Errorf("latest: %v %+v", err, tag)
	}
	// Any JSON spelling of the string latest is latest.
	tag = rpc.BlockTag{}
	if err := tag.UnmarshalJSON([]byte(`"\u006catest"`)); err != nil || !tag.Latest {
		t.Errorf("escaped latest: %v %+v", err, tag)
	}
	if err := tag.UnmarshalJSON([]byte(`7`)); err != nil || tag.Latest || tag.Height != 7 {
		t.Errorf("7: %v %+v", err, tag)
	}
	for _, s := range []string{`"7"`, `1e3`, `-0`, `null`, `true`, `"Latest"`, `"latest "`, `"\u006catest`} {
		if err := tag.UnmarshalJSON([]byte(s)); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

// failingPool is a backend whose pool cannot read accounts.
type failingPool struct{ *rpctest.Backend }

func (failingPool) PendingNonce(crypto.Address) (uint64, error) {
	return 0, errors.New("store: read failed")
}

func TestPendingNonceReadErrorIsAnError(t *testing.T) {
	// Goal: a pool that cannot read the account makes synod_getNonce
	// "pending" fail, not answer the committed nonce, which a wallet with
	// txs pending would sign a second tx with; "latest" needs no pool.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{}, failingPool{f.backend})
	addr := rpctest.Address(0).String()
	r := call(t, url, "synod_getNonce", addr, "pending")
	if r.Error == nil || r.Error.Code != rpc.CodeInternal {
		t.Fatalf("pending nonce with a failing pool: %s %+v", r.Result, r.Error)
	}
	if r := call(t, url, "synod_getNonce", addr, "latest"); r.Error != nil || string(r.Result) != "2" {
		t.Fatalf("latest nonce: %s %+v", r.Result, r.Error)
	}
}

func TestBodyInNonJSONWhitespaceIsAParseError(t *testing.T) {
	// Goal: a body that JSON refuses, a request wrapped in whitespace JSON
	// does not allow (\v, \f, U+0085, U+00A0), is a parse error, not
	// served; method: each around a good request.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{}, f.backend)
	req := `{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber"}`
	if _, body := post(t, url, " \t\r\n"+req+"\n"); decodeResponse(t, body).Error != nil {
		t.Fatalf("request in JSON whitespace: %s", body)
	}
	for _, space := range []string{"\v", "\f", "\u0085", "\u00a0"} {
		_, body := post(t, url, space+req+space)
		if r := decodeResponse(t, body); r.Error == nil || r.Error.Code != rpc.CodeParseError {
			t.Errorf("request in %q: %s", space, body)
		}
	}
}

func TestConnectionsBeyondTheLimitWait(t *testing.T) {
	// Goal: the server serves at most ConnectionsMax connections at once,
	// so the number of clients does not bound its memory; one waiting is
	// served once a connection closes. Method: two idle connections hold
	// a limit of 2; a request then gets no answer until one of them goes.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{ConnectionsMax: 2}, f.backend)
	addr := strings.TrimPrefix(url, "http://")
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	type answer struct {
		body string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber","params":[]}`))
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		answered <- answer{string(body), err}
	}()
	select {
	case a := <-answered:
		t.Fatalf("a third connection was served past the limit of 2: %q %v", a.body, a.err)
	case <-time.After(300 * time.Millisecond): // a lower bound only: no answer may come while both are held
	}
	idle[0].Close()
	if a := <-answered; a.err != nil || !strings.Contains(a.body, `"result":2`) {
		t.Fatalf("after a connection closed: %q %v", a.body, a.err)
	}
}
