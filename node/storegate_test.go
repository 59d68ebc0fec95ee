package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/mempool"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
)

// newStoreTestNode is a node with only what the RPC backend's chain reads
// need: a store with the genesis, a mempool, a block feed.
func newStoreTestNode(t *testing.T) *Node {
	t.Helper()
	g, _, _ := testGenesis(t, 4, 1)
	store, pool := openTestStoreAndPool(t, g)
	return &Node{genesis: g, log: slog.New(slog.DiscardHandler), store: store, pool: pool, events: newBlockFeed()}
}

// openTestStoreAndPool opens a store holding g's genesis in a temporary
// directory, with a mempool over it; the caller closes the store.
func openTestStoreAndPool(t *testing.T, g *ledger.Genesis) (*ledger.Store, *mempool.Mempool) {
	t.Helper()
	store, err := ledger.OpenStore(filepath.Join(t.TempDir(), "ledger"), ledger.StoreOptions{ChainID: g.ChainID})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.InitGenesis(g); err != nil {
		store.Close()
		t.Fatal(err)
	}
	pool, err := mempool.New(mempool.DefaultConfig(g.ChainID), store)
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	return store, pool
}

// TestStoreReadsAfterCloseAreRefused: the RPC server's shutdown is
// bounded, so a call or a WebSocket hook may reach the backend after the
// node closed its store, where Pebble panics. Every backend read of the
// store must then answer "unavailable" instead. Method: close a node,
// then make each read, catching a panic.
func TestStoreReadsAfterCloseAreRefused(t *testing.T) {
	n := newStoreTestNode(t)
	if err := n.close(); err != nil {
		t.Fatal(err)
	}
	b := backend{n}
	reads := map[string]func() error{
		"BlockByHeight": func() error { _, err := b.BlockByHeight(0); return err },
		"BlockByHash":   func() error { _, err := b.BlockByHash(crypto.Hash{1}); return err },
		"Certificate":   func() error { _, err := b.Certificate(1); return err },
		"Tx":            func() error { _, _, _, err := b.Tx(crypto.Hash{1}); return err },
		"GetAccount":    func() error { _, err := b.GetAccount(crypto.Address{1}); return err },
		"AccountAt":     func() error { _, err := b.AccountAt(crypto.Address{1}, 0); return err },
		"PendingNonce":  func() error { _, err := b.PendingNonce(crypto.Address{1}); return err },
	}
	for name, read := range reads {
		var rpcErr *rpc.Error
		if err := catchPanic(read); !errors.As(err, &rpcErr) || rpcErr.Code != rpc.CodeUnavailable {
			t.Errorf("%s after close: %v, want code %d", name, err, rpc.CodeUnavailable)
		}
	}
	if _, ok := n.storeStats(); ok {
		t.Error("the metrics read the store's counters after close")
	}
}

// catchPanic runs f and returns its error, or its panic as one.
func catchPanic(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

// TestWSTxHookAfterCloseLeavesTheStoreAlone: a tx subscription's hook
// runs after its reply, on the connection's goroutine, and looks the tx
// up in the store (it may have committed before the subscription). A hook
// that outlived the RPC server's shutdown and read the closed store
// panicked (Pebble), outside the RPC dispatcher's recover: the connection
// died unanswered. Method: close a node's store, then subscribe over
// WebSocket; the next call on that connection is answered only once the
// hook returned. (The deadline only bounds a failure.)
func TestWSTxHookAfterCloseLeavesTheStoreAlone(t *testing.T) {
	n := newStoreTestNode(t)
	if err := n.close(); err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.Config{}, backend{n}, nil)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	defer srv.Shutdown(ctx)
	url, err := client.WebSocketURL(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.DialWebSocket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SubscribeTx(ctx, crypto.Hash{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BlockNumber(ctx); err != nil {
		t.Fatalf("call after the tx subscription's hook: %v", err)
	}
	if _, err := c.BlockByNumber(ctx, rpc.AtHeight(0), false); client.ErrorCode(err) != rpc.CodeUnavailable {
		t.Fatalf("block read after close: %v, want code %d", err, rpc.CodeUnavailable)
	}
}

// TestCloseStoreWaitsForReaders: closing the store waits for the reads in
// flight, and only for a bounded time: past it the store is left open
// (and the close fails) rather than pulled from under a reader. Method:
// a reader the test holds in the gate while the store closes.
func TestCloseStoreWaitsForReaders(t *testing.T) {
	t.Run("reader leaves", func(t *testing.T) {
		n := newStoreTestNode(t)
		if !n.storeReaders.enter() {
			t.Fatal("gate closed before close")
		}
		closed := make(chan error, 1)
		go func() { closed <- n.closeStore(storeReadersWaitMax) }()
		if _, err := n.store.BlockByHeight(0); err != nil { // a closed store would panic
			t.Fatal(err)
		}
		n.storeReaders.leave()
		if err := <-closed; err != nil {
			t.Fatalf("close after the reader left: %v", err)
		}
		if n.storeReaders.enter() {
			t.Fatal("a reader entered a closed store")
		}
	})
	t.Run("reader stays", func(t *testing.T) {
		n := newStoreTestNode(t)
		if !n.storeReaders.enter() {
			t.Fatal("gate closed before close")
		}
		err := n.closeStore(0)
		if err == nil || !strings.Contains(err.Error(), "still being read") {
			t.Fatalf("close with a reader in: %v, want the store left open", err)
		}
		if _, err := n.store.BlockByHeight(0); err != nil { // still open
			t.Fatal(err)
		}
		n.storeReaders.leave()
		if err := n.store.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
