package rpc_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// leadBackend records, at each block lookup, how far the server's work is
// ahead of what its WebSocket peer has read: the replies it holds.
type leadBackend struct {
	*rpctest.Backend
	calls, read, leadMax atomic.Int64
}

func (b *leadBackend) BlockByHeight(h uint64) (*ledger.Block, error) {
	lead := b.calls.Add(1) - b.read.Load()
	for m := b.leadMax.Load(); lead > m && !b.leadMax.CompareAndSwap(m, lead); m = b.leadMax.Load() {
	}
	return b.Backend.BlockByHeight(h)
}

func TestWSRepliesToAPeerThatDoesNotReadAreBounded(t *testing.T) {
	// Goal: a peer that sends many requests for large replies and does not
	// read makes the server hold at most about WSReplyBytesMax of them,
	// not WSQueueMessagesMax replies of any size. Method: a connection
	// without kernel buffers (net.Pipe); 200 requests for a 2 KiB block,
	// the reading started only once the server is on them; a limit under
	// two replies; at each request the server handles, we note how many
	// replies the peer has read so far.
	f := newChain(t)
	b := &leadBackend{Backend: f.backend}
	l := newPipeListener()
	_, url := startServerOn(t, rpc.Config{WSReplyBytesMax: 4 << 10}, b, l)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws",
		&websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: l.dial}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)

	const requests = 200
	sent := make(chan error, 1)
	go func() {
		for i := range requests {
			req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"synod_getBlockByNumber","params":[1,true]}`, i)
			if err := ws.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	waitFor(t, "the server to start on the requests", func() bool { return b.calls.Load() >= 2 })
	for range requests {
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatalf("after %d replies: %v", b.read.Load(), err)
		}
		b.read.Add(1)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	// The limit holds one of these replies; the one in hand, the one
	// being written and the reader's buffer a few more. Without the limit
	// the server ran 36 to 86 requests ahead.
	if lead := b.leadMax.Load(); lead > 10 {
		t.Fatalf("the server ran %d requests ahead of its reader", lead)
	}
}

// pipeListener serves connections made by its dial over net.Pipe: no
// kernel buffers, so what a server holds for a peer that does not read
// stays in the server, where a test can see it.
type pipeListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
