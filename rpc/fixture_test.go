package rpc_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// chainFixture is the fixed chain every transcript runs against:
//
//	block 1: txA (account 0 → 1, 1000, fee 10), txB (account 1 → 2, 5, fee 1)
//	block 2: txC (account 0 → 2, 250, fee 10)
//	pending: txD (account 0 → 1, 7, fee 1, nonce 2)
type chainFixture struct {
	backend            *rpctest.Backend
	txA, txB, txC, txD *ledger.Tx
}

func newChain(t *testing.T) *chainFixture {
	t.Helper()
	b, err := rpctest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	f := &chainFixture{
		backend: b,
		txA:     rpctest.Transfer(0, 0, rpctest.Address(1), 1000, 10),
		txB:     rpctest.Transfer(1, 0, rpctest.Address(2), 5, 1),
		txC:     rpctest.Transfer(0, 1, rpctest.Address(2), 250, 10),
		txD:     rpctest.Transfer(0, 2, rpctest.Address(1), 7, 1),
	}
	mustSubmit(t, b, f.txA, f.txB)
	mustCommit(t, b)
	mustSubmit(t, b, f.txC)
	mustCommit(t, b)
	mustSubmit(t, b, f.txD)
	return f
}

func mustSubmit(t *testing.T, b *rpctest.Backend, txs ...*ledger.Tx) {
	t.Helper()
	for _, tx := range txs {
		if err := b.SubmitTx(tx); err != nil {
			t.Fatal(err)
		}
	}
}

func mustCommit(t *testing.T, b *rpctest.Backend) *ledger.Block {
	t.Helper()
	blk, err := b.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return blk
}

// transcriptVars are the raw txs, hashes and addresses the transcripts
// use, by name; the transcripts spell them as {{name}}.
func transcriptVars(t *testing.T, f *chainFixture) map[string]string {
	t.Helper()
	blockHash := func(h uint64) string {
		b, err := f.backend.BlockByHeight(h)
		if err != nil {
			t.Fatal(err)
		}
		return b.Hash().String()
	}
	badSig := rpctest.Transfer(2, 0, rpctest.Address(0), 100, 1)
	badSig.Signature[0] ^= 1
	wrongChain := &ledger.Tx{ChainID: "other-chain", To: rpctest.Address(0), Amount: 1, Fee: 1}
	wrongChain.Sign(rpctest.Key(2))
	overflow := rpctest.Transfer(2, 0, rpctest.Address(0), math.MaxUint64, 1)
	hexOf := rawTx
	return map[string]string{
		"txE":         hexOf(rpctest.Transfer(2, 0, rpctest.Address(0), 100, 1)),
		"txD":         hexOf(rpctest.Transfer(0, 2, rpctest.Address(1), 7, 1)),
		"badSig":      hexOf(badSig),
		"wrongChain":  hexOf(wrongChain),
		"nonceLow":    hexOf(rpctest.Transfer(0, 0, rpctest.Address(1), 1, 1)),
		"nonceGap":    hexOf(rpctest.Transfer(0, 9, rpctest.Address(1), 1, 1)),
		"poor":        hexOf(rpctest.Transfer(1, 1, rpctest.Address(0), 2*rpctest.InitialBalance, 1)),
		"underpriced": hexOf(rpctest.Transfer(0, 2, rpctest.Address(2), 8, 1)),
		"replacement": hexOf(rpctest.Transfer(0, 2, rpctest.Address(2), 8, 5)),
		"overflow":    hexOf(overflow),
		"tooLarge":    "0x" + hex.EncodeToString(make([]byte, ledger.TxBytesMax+1)),
		"malformed":   "0x01ff",
		"unknownHash": crypto.Sum256([]byte("unknown")).String(),
		"unknownAddr": crypto.Address{0xaa}.String(),
		"account0":    rpctest.Address(0).String(),
		"account1":    rpctest.Address(1).String(),
		"account2":    rpctest.Address(2).String(),
		"txEHash":     rpctest.Transfer(2, 0, rpctest.Address(0), 100, 1).Hash().String(),
		"txAHash":     f.txA.Hash().String(),
		"txCHash":     f.txC.Hash().String(),
		"txDHash":     f.txD.Hash().String(),
		"block0Hash":  blockHash(0),
		"block1Hash":  blockHash(1),
	}
}

func rawTx(tx *ledger.Tx) string { return "0x" + hex.EncodeToString(tx.Encode()) }

// startServer serves backend on a fresh loopback listener and shuts the
// server down at the end of the test.
func startServer(t *testing.T, cfg rpc.Config, backend rpc.Backend) (*rpc.Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, cfg, backend, l)
}

func startServerOn(t *testing.T, cfg rpc.Config, backend rpc.Backend, l net.Listener) (*rpc.Server, string) {
	t.Helper()
	srv := rpc.NewServer(cfg, backend, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return srv, "http://" + l.Addr().String()
}

// post sends body as a JSON-RPC request and returns the status and body.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(out)
}

// rpcResponse is a decoded response for assertions.
type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *rpc.Error      `json:"error"`
}

func decodeResponse(t *testing.T, body string) rpcResponse {
	t.Helper()
	var r rpcResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("response %q: %v", body, err)
	}
	return r
}

// call posts one request and returns its decoded response.
func call(t *testing.T, url, method string, params ...any) rpcResponse {
	t.Helper()
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	if err != nil {
		t.Fatal(err)
	}
	_, out := post(t, url, string(body))
	return decodeResponse(t, out)
}
