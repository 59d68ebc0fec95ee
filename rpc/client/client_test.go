package client_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// node is a test server over the fake backend with one committed block
// (account 0 → 1, 1000, fee 10).
type node struct {
	backend *rpctest.Backend
	url     string
	txA     *ledger.Tx
}

func startNode(t *testing.T, backend rpc.Backend, b *rpctest.Backend) *node {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.Config{}, backend, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return &node{backend: b, url: "http://" + l.Addr().String()}
}

func newNode(t *testing.T) *node {
	t.Helper()
	b, err := rpctest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	txA := rpctest.Transfer(0, 0, rpctest.Address(1), 1000, 10)
	if err := b.SubmitTx(txA); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, b, b)
	n.txA = txA
	return n
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clients returns an HTTP and a WebSocket client of n.
func clients(t *testing.T, n *node) map[string]*client.Client {
	t.Helper()
	wsURL, err := client.WebSocketURL(n.url)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := client.Dial(ctxT(t), wsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	h, err := client.Dial(ctxT(t), n.url)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*client.Client{"http": h, "ws": ws}
}

func TestEveryMethod(t *testing.T) {
	// Goal: each typed method returns what the server holds, over HTTP and
	// WebSocket alike; method: read the fixture chain, submit a tx, read
	// it back pending.
	n := newNode(t)
	for name, c := range clients(t, n) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			if h, err := c.BlockNumber(ctx); err != nil || h != 1 {
				t.Fatalf("BlockNumber = %d, %v", h, err)
			}
			bal, err := c.Balance(ctx, rpctest.Address(1), rpc.Latest)
			if err != nil || bal != rpctest.InitialBalance+1000 {
				t.Fatalf("Balance = %d, %v", bal, err)
			}
			if bal, err := c.Balance(ctx, rpctest.Address(1), rpc.AtHeight(0)); err != nil || bal != rpctest.InitialBalance {
				t.Fatalf("Balance at 0 = %d, %v", bal, err)
			}
			b1, err := c.BlockByNumber(ctx, rpc.AtHeight(1), true)
			if err != nil || b1 == nil || !b1.Full || len(b1.Txs) != 1 || b1.Txs[0].Hash != n.txA.Hash() || b1.Commit == nil || len(b1.Commit.Signatures) != 3 {
				t.Fatalf("BlockByNumber(1, full) = %+v, %v", b1, err)
			}
			byHash, err := c.BlockByHash(ctx, b1.Hash, false)
			if err != nil || byHash == nil || byHash.Full || len(byHash.TxHashes) != 1 || byHash.TxHashes[0] != n.txA.Hash() {
				t.Fatalf("BlockByHash = %+v, %v", byHash, err)
			}
			if b, err := c.BlockByNumber(ctx, rpc.AtHeight(9), false); err != nil || b != nil {
				t.Fatalf("BlockByNumber(9) = %+v, %v", b, err)
			}
			if b, err := c.BlockByHash(ctx, crypto.Hash{1}, false); err != nil || b != nil {
				t.Fatalf("BlockByHash(unknown) = %+v, %v", b, err)
			}
			tx, err := c.Transaction(ctx, n.txA.Hash())
			if err != nil || tx == nil || tx.Status != rpc.TxStatusCommitted || *tx.Height != 1 || *tx.BlockHash != b1.Hash || uint64(tx.Amount) != 1000 {
				t.Fatalf("Transaction = %+v, %v", tx, err)
			}
			if tx, err := c.Transaction(ctx, crypto.Hash{2}); err != nil || tx != nil {
				t.Fatalf("Transaction(unknown) = %+v, %v", tx, err)
			}
			st, err := c.Status(ctx)
			if err != nil || st.ChainID != rpctest.ChainID || st.Height != 1 || st.Validators != 4 || st.F != 1 {
				t.Fatalf("Status = %+v, %v", st, err)
			}
			vals, err := c.Validators(ctx)
			if err != nil || len(vals) != 4 || vals[2].PublicKey != rpctest.ValidatorKey(2).Public() || vals[2].Address != rpctest.ValidatorKey(2).Public().Address() {
				t.Fatalf("Validators = %+v, %v", vals, err)
			}
			// Each transport submits its own sender's tx.
			sender := map[string]int{"http": 1, "ws": 2}[name]
			nonce, err := c.Nonce(ctx, rpctest.Address(sender), rpc.NoncePending)
			if err != nil {
				t.Fatal(err)
			}
			send := rpctest.Transfer(sender, nonce, rpctest.Address(0), 5, 1)
			h, err := c.SendTransaction(ctx, send)
			if err != nil || h != send.Hash() {
				t.Fatalf("SendTransaction = %s, %v", h, err)
			}
			if p, err := c.Transaction(ctx, h); err != nil || p == nil || p.Status != rpc.TxStatusPending || p.Height != nil {
				t.Fatalf("pending Transaction = %+v, %v", p, err)
			}
			if next, err := c.Nonce(ctx, rpctest.Address(sender), rpc.NoncePending); err != nil || next != nonce+1 {
				t.Fatalf("pending Nonce = %d, %v", next, err)
			}
			if latest, err := c.Nonce(ctx, rpctest.Address(sender), rpc.NonceLatest); err != nil || latest != nonce {
				t.Fatalf("latest Nonce = %d, %v", latest, err)
			}
			if _, err := c.OMReport(ctx, rpc.Latest); client.ErrorCode(err) != rpc.CodeMethodNotFound {
				t.Fatalf("OMReport without a reporter: %v", err)
			}
		})
	}
}

func TestErrorsCarryCodes(t *testing.T) {
	// Goal: server errors surface as *client.Error with the code, so a
	// wallet can branch on it; method: a nonce reuse, a bad param, an
	// unknown method, over both transports.
	n := newNode(t)
	for name, c := range clients(t, n) {
		ctx := ctxT(t)
		_, err := c.SendTransaction(ctx, n.txA)
		var e *client.Error
		if !errors.As(err, &e) || e.Code != rpc.CodeTxDuplicate {
			t.Errorf("%s: resubmitting a committed tx: %v", name, err)
		}
		_, err = c.SendTransaction(ctx, rpctest.Transfer(0, 0, rpctest.Address(2), 1, 1))
		if client.ErrorCode(err) != rpc.CodeTxNonceTooLow {
			t.Errorf("%s: nonce reuse: %v", name, err)
		}
		if err := c.Call(ctx, nil, "synod_getBalance", "0x12"); client.ErrorCode(err) != rpc.CodeInvalidParams {
			t.Errorf("%s: bad address: %v", name, err)
		}
		if err := c.Call(ctx, nil, "synod_nope"); client.ErrorCode(err) != rpc.CodeMethodNotFound {
			t.Errorf("%s: unknown method: %v", name, err)
		}
	}
}

func TestBatchCall(t *testing.T) {
	// Goal: a batch returns each call's result or its own error; method:
	// three calls, one failing, over both transports.
	n := newNode(t)
	for name, c := range clients(t, n) {
		var height uint64
		var bal rpc.Decimal
		calls := []client.BatchElem{
			{Method: "synod_blockNumber", Result: &height},
			{Method: "synod_getBalance", Params: []any{rpctest.Address(0), "latest"}, Result: &bal},
			{Method: "synod_nope"},
		}
		if err := c.BatchCall(ctxT(t), calls); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if height != 1 || uint64(bal) != rpctest.InitialBalance-1010 || calls[0].Error != nil || calls[1].Error != nil {
			t.Errorf("%s: height %d balance %d errors %v %v", name, height, bal, calls[0].Error, calls[1].Error)
		}
		if client.ErrorCode(calls[2].Error) != rpc.CodeMethodNotFound {
			t.Errorf("%s: failing call: %v", name, calls[2].Error)
		}
	}
}

func TestSubscriptions(t *testing.T) {
	// Goal: newBlocks arrive on the channel in order; a tx subscription
	// gives one receipt and closes with a nil error; Unsubscribe closes
	// the channel; HTTP clients cannot subscribe; method: commit blocks on
	// the fake backend.
	n := newNode(t)
	cs := clients(t, n)
	if _, err := cs["http"].SubscribeNewBlocks(ctxT(t)); err == nil {
		t.Fatal("HTTP client subscribed")
	}
	c := cs["ws"]
	ctx := ctxT(t)
	blocks, err := c.SubscribeNewBlocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx := rpctest.Transfer(1, 0, rpctest.Address(2), 3, 1)
	receipt, err := c.SubscribeTx(ctx, tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	blk, err := n.backend.Commit()
	if err != nil {
		t.Fatal(err)
	}
	r, err := client.AwaitReceipt(ctx, receipt)
	if err != nil || r.Hash != tx.Hash() || *r.Height != 2 || *r.BlockHash != blk.Hash() {
		t.Fatalf("receipt %+v, %v", r, err)
	}
	select {
	case h := <-blocks.C:
		if h.Height != 2 || h.Hash != blk.Hash() {
			t.Fatalf("header %+v", h)
		}
	case <-ctx.Done():
		t.Fatal("no block notification")
	}
	if _, ok := <-receipt.C; ok {
		t.Fatal("tx subscription delivered twice")
	}
	if err := <-receipt.Err(); err != nil {
		t.Fatalf("tx subscription ended with %v", err)
	}
	// A receipt for a tx committed earlier comes at once.
	if r, err := c.WaitForTx(ctx, n.txA.Hash()); err != nil || *r.Height != 1 {
		t.Fatalf("WaitForTx(committed) = %+v, %v", r, err)
	}
	if err := blocks.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-blocks.C; ok {
		t.Fatal("channel open after Unsubscribe")
	}
}

func TestWaitForTxHonoursContext(t *testing.T) {
	// Goal: waiting for a tx that never commits ends with the context;
	// method: a short deadline.
	n := newNode(t)
	c := clients(t, n)["ws"]
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.WaitForTx(ctx, crypto.Hash{9}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForTx = %v", err)
	}
}

func TestClosedClient(t *testing.T) {
	// Goal: calls and subscriptions on a closed WebSocket client fail
	// cleanly; method: close then call.
	n := newNode(t)
	c := clients(t, n)["ws"]
	sub, err := c.SubscribeNewBlocks(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.BlockNumber(ctxT(t)); err == nil {
		t.Fatal("call on a closed client succeeded")
	}
	if _, ok := <-sub.C; ok {
		t.Fatal("subscription open after Close")
	}
	if err := <-sub.Err(); err == nil {
		t.Fatal("subscription of a closed client ended without error")
	}
}

func TestURLs(t *testing.T) {
	// Goal: URL handling names the problem; method: table.
	if _, err := client.Dial(context.Background(), "ftp://x"); err == nil {
		t.Error("ftp accepted")
	}
	for in, want := range map[string]string{
		"http://127.0.0.1:8545":  "ws://127.0.0.1:8545/ws",
		"https://node.example/":  "wss://node.example/ws",
		"ws://127.0.0.1:8545/ws": "ws://127.0.0.1:8545/ws",
	} {
		if got, err := client.WebSocketURL(in); err != nil || got != want {
			t.Errorf("WebSocketURL(%s) = %s, %v", in, got, err)
		}
	}
}

func TestOMReport(t *testing.T) {
	// Goal: OMReport returns the backend's report when it has one;
	// method: the fake's OMBackend.
	b, err := rpctest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	n := startNode(t, rpctest.OMBackend{Backend: b}, b)
	c, _ := client.Dial(ctxT(t), n.url)
	raw, err := c.OMReport(ctxT(t), rpc.Latest)
	if err != nil || len(raw) == 0 || string(raw) == "null" {
		t.Fatalf("OMReport = %s, %v", raw, err)
	}
}
