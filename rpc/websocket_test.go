package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/synod-chain/synod/rpc"
)

// wsMessage is a reply or a notification read from a WebSocket.
type wsMessage struct {
	ID     json.RawMessage   `json:"id"`
	Result json.RawMessage   `json:"result"`
	Error  *rpc.Error        `json:"error"`
	Method string            `json:"method"`
	Params *rpc.Notification `json:"params"`
}

func wsSend(t *testing.T, ws *websocket.Conn, id int, method string, params ...any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, body); err != nil {
		t.Fatal(err)
	}
}

func wsRead(t *testing.T, ws *websocket.Conn) wsMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m wsMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return m
}

// wsCall sends a request and reads its reply.
func wsCall(t *testing.T, ws *websocket.Conn, id int, method string, params ...any) wsMessage {
	t.Helper()
	wsSend(t, ws, id, method, params...)
	m := wsRead(t, ws)
	if string(m.ID) != fmt.Sprint(id) {
		t.Fatalf("reply %+v is not for id %d", m, id)
	}
	return m
}

func subID(t *testing.T, m wsMessage) string {
	t.Helper()
	var id string
	if m.Error != nil || json.Unmarshal(m.Result, &id) != nil || !strings.HasPrefix(id, "0x") {
		t.Fatalf("subscribe answered %+v", m)
	}
	return id
}

func TestWSNewBlocks(t *testing.T) {
	// Goal: a newBlocks subscription gets one header per committed block,
	// in order, and nothing after unsubscribing; unsubscribing twice is
	// false; method: commit blocks between reads.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{}, f.backend)
	ws := dialWS(t, url)
	id := subID(t, wsCall(t, ws, 1, "synod_subscribe", "newBlocks"))
	for want := uint64(3); want <= 5; want++ {
		blk := mustCommit(t, f.backend)
		m := wsRead(t, ws)
		if m.Method != "synod_subscription" || m.Params == nil || m.Params.Subscription != id {
			t.Fatalf("notification %+v", m)
		}
		var h rpc.BlockHeader
		if err := json.Unmarshal(m.Params.Result, &h); err != nil {
			t.Fatal(err)
		}
		if h.Height != want || h.Hash != blk.Hash() || h.TxCount != len(blk.Txs) {
			t.Fatalf("header %+v, want height %d hash %s", h, want, blk.Hash())
		}
	}
	if m := wsCall(t, ws, 2, "synod_unsubscribe", id); string(m.Result) != "true" {
		t.Fatalf("unsubscribe: %+v", m)
	}
	mustCommit(t, f.backend)
	// The next message must be the reply to this call, not a block.
	if m := wsCall(t, ws, 3, "synod_unsubscribe", id); string(m.Result) != "false" {
		t.Fatalf("second unsubscribe: %+v", m)
	}
}

func TestWSTxReceipt(t *testing.T) {
	// Goal: a "tx" subscription delivers exactly one receipt when the tx
	// commits, and at once if it committed before subscribing; method:
	// subscribe to a pending tx (txD) and commit, then subscribe to a
	// committed one (txA).
	f := newChain(t)
	_, url := startServer(t, rpc.Config{}, f.backend)
	ws := dialWS(t, url)
	id := subID(t, wsCall(t, ws, 1, "synod_subscribe", "tx", f.txD.Hash().String()))
	blk := mustCommit(t, f.backend)
	m := wsRead(t, ws)
	var receipt rpc.Transaction
	if m.Params == nil || m.Params.Subscription != id || json.Unmarshal(m.Params.Result, &receipt) != nil {
		t.Fatalf("notification %+v", m)
	}
	if receipt.Hash != f.txD.Hash() || receipt.Status != rpc.TxStatusCommitted || *receipt.Height != blk.Height() || *receipt.BlockHash != blk.Hash() {
		t.Fatalf("receipt %+v", receipt)
	}
	// The subscription ended by itself.
	if m := wsCall(t, ws, 2, "synod_unsubscribe", id); string(m.Result) != "false" {
		t.Fatalf("tx subscription still there: %+v", m)
	}
	id2 := subID(t, wsCall(t, ws, 3, "synod_subscribe", "tx", f.txA.Hash().String()))
	m = wsRead(t, ws)
	if m.Params == nil || m.Params.Subscription != id2 || !strings.Contains(string(m.Params.Result), `"height":1`) {
		t.Fatalf("receipt of a committed tx: %+v", m)
	}
}

func TestWSSubscriptionErrors(t *testing.T) {
	// Goal: bad kinds and params are -32602, the per-connection limit is
	// -32050, and the connection keeps working; method: a server with a
	// limit of 2.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{SubscriptionsPerConnMax: 2}, f.backend)
	ws := dialWS(t, url)
	for i, params := range [][]any{{"pendingTxs"}, {"tx"}, {"tx", "0x12"}, {"newBlocks", 1}, {}, {7}} {
		if m := wsCall(t, ws, 10+i, "synod_subscribe", params...); m.Error == nil || m.Error.Code != rpc.CodeInvalidParams {
			t.Errorf("subscribe %v: %+v", params, m)
		}
	}
	subID(t, wsCall(t, ws, 1, "synod_subscribe", "newBlocks"))
	subID(t, wsCall(t, ws, 2, "synod_subscribe", "tx", f.txD.Hash().String()))
	if m := wsCall(t, ws, 3, "synod_subscribe", "newBlocks"); m.Error == nil || m.Error.Code != rpc.CodeSubscriptionLimit {
		t.Fatalf("third subscription: %+v", m)
	}
	if m := wsCall(t, ws, 4, "synod_blockNumber"); string(m.Result) != "2" {
		t.Fatalf("connection broken: %+v", m)
	}
	// Another connection has its own limit.
	subID(t, wsCall(t, dialWS(t, url), 1, "synod_subscribe", "newBlocks"))
}

// smallBufferListener shrinks each accepted connection's kernel send
// buffer, so a peer that stops reading backs up into the server's queue
// after a few messages instead of a few megabytes.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestWSSlowSubscriberIsDropped(t *testing.T) {
	// Goal: a subscriber that stops reading is disconnected once its queue
	// is full, while a reading subscriber gets every block in order;
	// method: two subscribers, one never reads; commit until the slow one
	// is gone (bounded), then check the fast one saw all blocks.
	f := newChain(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, url := startServerOn(t, rpc.Config{WSQueueMessagesMax: 4}, f.backend, smallBufferListener{l})
	fast := dialWS(t, url)
	subID(t, wsCall(t, fast, 1, "synod_subscribe", "newBlocks"))

	// The slow client has a tiny receive buffer and never reads.
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	slow, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws", &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	subID(t, wsCall(t, slow, 1, "synod_subscribe", "newBlocks"))
	// The subscription is registered just after its reply is queued, so
	// the client may read the reply first: wait for it, bounded.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		blocks, _ := srv.Subscriptions()
		if blocks == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d block subscriptions, want 2", blocks)
		}
	}

	const blocksMax = 2000
	got := make(chan uint64, blocksMax)
	readErr := make(chan error, 1)
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, data, err := fast.Read(ctx)
			cancel()
			if err != nil {
				readErr <- err
				return
			}
			var m wsMessage
			var h rpc.BlockHeader
			if json.Unmarshal(data, &m) != nil || m.Params == nil || json.Unmarshal(m.Params.Result, &h) != nil {
				readErr <- fmt.Errorf("bad notification %s", data)
				return
			}
			got <- h.Height
		}
	}()
	// Commit at the fast subscriber's pace, as a node commits far slower
	// than a loopback reader reads.
	committed := 0
	for committed < blocksMax {
		blk := mustCommit(t, f.backend)
		committed++
		select {
		case h := <-got:
			if h != blk.Height() {
				t.Fatalf("fast subscriber got height %d, want %d", h, blk.Height())
			}
		case err := <-readErr:
			t.Fatalf("fast subscriber: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("fast subscriber stuck before height %d", blk.Height())
		}
		if blocks, _ := srv.Subscriptions(); blocks == 1 {
			break
		}
	}
	// The server decides to drop as soon as the queue is full, but the
	// subscription leaves its table only once the connection's read loop
	// ends; on a loaded machine that can take longer than committing
	// blocksMax blocks at a loopback reader's pace, so wait, bounded.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if blocks, _ := srv.Subscriptions(); blocks == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow subscriber not dropped after %d blocks and 10 s", committed)
		}
	}
	t.Logf("slow subscriber dropped after %d blocks", committed)
	// The fast one is still subscribed and served.
	blk := mustCommit(t, f.backend)
	select {
	case h := <-got:
		if h != blk.Height() {
			t.Fatalf("after the drop: height %d, want %d", h, blk.Height())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fast subscriber stopped getting blocks after the drop")
	}
	if f.backend.Dropped() != 0 {
		t.Errorf("the node had to drop %d blocks: the server held up delivery", f.backend.Dropped())
	}
}

func TestWSConnectionLimit(t *testing.T) {
	// Goal: connections over WSConnectionsMax are refused and a freed
	// slot is reusable; method: a limit of 1.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{WSConnectionsMax: 1}, f.backend)
	first := dialWS(t, url)
	wsCall(t, first, 1, "synod_blockNumber")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(url, "http") + "/ws"
	if c, _, err := websocket.Dial(ctx, wsURL, nil); err == nil {
		c.CloseNow()
		t.Fatal("second connection accepted over the limit")
	}
	first.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := websocket.Dial(ctx, wsURL, nil)
		if err == nil {
			c.CloseNow()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWSShutdownClosesConnections(t *testing.T) {
	// Goal: Shutdown closes open WebSocket connections with "going away"
	// and stops the block feed; method: subscribe, shut down, read.
	f := newChain(t)
	srv := rpc.NewServer(rpc.Config{}, f.backend, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	ws := dialWS(t, "http://"+l.Addr().String())
	subID(t, wsCall(t, ws, 1, "synod_subscribe", "newBlocks"))
	waitFor(t, "the hub to subscribe to the backend", func() bool { return f.backend.Subscribers() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	readErr := make(chan error, 1)
	go func() { _, _, err := ws.Read(ctx); readErr <- err }()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The server's close handshake completes (Shutdown waits for it); the
	// client library reports either the status or, when its own reply
	// races the TCP close, EOF.
	if err := <-readErr; websocket.CloseStatus(err) != websocket.StatusGoingAway && !errors.Is(err, io.EOF) {
		t.Errorf("read after shutdown: %v", err)
	}
	if n := f.backend.Subscribers(); n != 0 {
		t.Errorf("%d backend subscriptions left after shutdown", n)
	}
}

// waitFor polls cond every 10 ms for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
