package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
)

// TestEveryRPCMethodAgainstARunningNode drives every JSON-RPC method, over
// HTTP and WebSocket, against a real validator (a one-node chain with real
// libp2p, Pebble and mempool), with each tx rejection and each JSON-RPC
// protocol error checked by its code.
func TestEveryRPCMethodAgainstARunningNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node; skipped in -short")
	}
	ln := newLocalNet(t, 1, 2)
	ln.configure = func(_ int, c *Config) { c.Mempool.TxsMax = 2 } // to reach "mempool full"
	ln.start(0)
	ln.waitFor("height 1", 30*time.Second, func() bool { return ln.heights(0)[0] >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	httpURL := ln.nodes[0].RPC
	wsURL, err := client.WebSocketURL(httpURL)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := client.Dial(ctx, wsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := client.NewHTTP(httpURL, nil)
	chain := ln.genesis.ChainID
	alice, bob := ln.wallets[0], ln.wallets[1]
	wantCode := func(what string, err error, code int) {
		t.Helper()
		if got := client.ErrorCode(err); got != code {
			t.Fatalf("%s: code %d (%v), want %d", what, got, err, code)
		}
	}
	signed := func(key crypto.PrivateKey, nonce, amount uint64, mutate func(*ledger.Tx)) *ledger.Tx {
		tx := &ledger.Tx{ChainID: chain, Nonce: nonce, To: bob.Public().Address(), Amount: amount, Fee: 1}
		if mutate != nil {
			mutate(tx)
		}
		tx.Sign(key)
		return tx
	}

	// synod_status, synod_validators, synod_blockNumber.
	st, err := c.Status(ctx)
	if err != nil || st.ChainID != chain || st.Validators != 1 || st.F != 0 {
		t.Fatalf("status %+v, %v", st, err)
	}
	vals, err := c.Validators(ctx)
	if err != nil || len(vals) != 1 || vals[0].PublicKey != ln.genesis.Validators[0].PublicKey || vals[0].PeerID == "" {
		t.Fatalf("validators %+v, %v", vals, err)
	}
	if _, err := c.BlockNumber(ctx); err != nil {
		t.Fatal(err)
	}

	// synod_subscribe newBlocks over WebSocket, then a tx receipt.
	blocks, err := ws.SubscribeNewBlocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx0 := signed(alice, 0, 500, nil)
	receipts, err := ws.SubscribeTx(ctx, tx0.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.SendTransaction(ctx, tx0); err != nil || h != tx0.Hash() {
		t.Fatalf("send: %s, %v", h, err)
	}
	var receipt rpc.Transaction
	select {
	case r := <-receipts.C:
		receipt = r
	case <-ctx.Done():
		t.Fatal("no receipt")
	}
	if receipt.Status != "committed" || receipt.Height == nil || receipt.Hash != tx0.Hash() {
		t.Fatalf("receipt %+v", receipt)
	}
	select {
	case hdr := <-blocks.C:
		if hdr.Height == 0 {
			t.Fatalf("block notification %+v", hdr)
		}
	case <-ctx.Done():
		t.Fatal("no block notification")
	}
	if err := blocks.Unsubscribe(ctx); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}

	// synod_getTransaction, synod_getBlockByNumber / ByHash, synod_getBalance, synod_getNonce.
	got, err := c.Transaction(ctx, tx0.Hash())
	if err != nil || got == nil || got.Status != "committed" || *got.Height != *receipt.Height {
		t.Fatalf("getTransaction %+v, %v", got, err)
	}
	if unknown, err := c.Transaction(ctx, crypto.Hash{1}); err != nil || unknown != nil {
		t.Fatalf("unknown tx: %+v, %v", unknown, err)
	}
	byNum, err := c.BlockByNumber(ctx, rpc.AtHeight(*receipt.Height), true)
	if err != nil || byNum == nil || len(byNum.Txs) == 0 || byNum.Commit == nil {
		t.Fatalf("block by number %+v, %v", byNum, err)
	}
	byHash, err := c.BlockByHash(ctx, byNum.Hash, false)
	if err != nil || byHash == nil || byHash.Height != byNum.Height || len(byHash.TxHashes) != len(byNum.Txs) {
		t.Fatalf("block by hash %+v, %v", byHash, err)
	}
	if none, err := c.BlockByNumber(ctx, rpc.AtHeight(1<<40), false); err != nil || none != nil {
		t.Fatalf("future block: %+v, %v", none, err)
	}
	var bobGenesis uint64
	for _, a := range ln.genesis.Accounts {
		if a.Address == bob.Public().Address() {
			bobGenesis = uint64(a.Amount)
		}
	}
	bal, err := c.Balance(ctx, bob.Public().Address(), rpc.AtHeight(*receipt.Height))
	if err != nil || bal != bobGenesis+500 {
		t.Fatalf("bob's balance %d, want %d (%v)", bal, bobGenesis+500, err)
	}
	if n, err := c.Nonce(ctx, alice.Public().Address(), rpc.NonceLatest); err != nil || n != 1 {
		t.Fatalf("nonce %d, %v", n, err)
	}

	// Every tx rejection, by code.
	_, err = c.SendRawTransaction(ctx, []byte{1, 2, 3})
	wantCode("malformed", err, rpc.CodeTxMalformed)
	_, err = c.SendTransaction(ctx, signed(alice, 1, 1, func(tx *ledger.Tx) { tx.ChainID = "another-chain" }))
	wantCode("wrong chain", err, rpc.CodeTxWrongChain)
	bad := signed(alice, 1, 1, nil)
	bad.Signature[9] ^= 1
	_, err = c.SendTransaction(ctx, bad)
	wantCode("bad signature", err, rpc.CodeTxBadSignature)
	_, err = c.SendTransaction(ctx, signed(alice, 0, 1, nil))
	wantCode("replay", err, rpc.CodeTxNonceTooLow)
	_, err = c.SendTransaction(ctx, signed(alice, 1_000_000, 1, nil))
	wantCode("nonce far ahead", err, rpc.CodeTxNonceGap)
	_, err = c.SendTransaction(ctx, signed(alice, 1, 1<<62, nil))
	wantCode("overdraft", err, rpc.CodeTxInsufficientFunds)
	_, err = c.SendTransaction(ctx, signed(alice, 1, 1<<63, func(tx *ledger.Tx) { tx.Fee = 1 << 63 }))
	wantCode("overflow", err, rpc.CodeTxAmountOverflow)
	pending := signed(alice, 5, 1, nil) // a future nonce: accepted, pending
	if _, err := c.SendTransaction(ctx, pending); err != nil {
		t.Fatalf("future nonce: %v", err)
	}
	_, err = c.SendTransaction(ctx, pending)
	wantCode("duplicate", err, rpc.CodeTxDuplicate)
	_, err = c.SendTransaction(ctx, signed(alice, 5, 2, nil))
	wantCode("underpriced replacement", err, rpc.CodeTxUnderpriced)
	if p, err := c.Transaction(ctx, pending.Hash()); err != nil || p == nil || p.Status != "pending" {
		t.Fatalf("pending tx: %+v, %v", p, err)
	}
	if n, err := c.Nonce(ctx, alice.Public().Address(), rpc.NoncePending); err != nil || n != 1 { // nonce 5 waits behind a gap
		t.Fatalf("pending nonce %d, %v", n, err)
	}
	if _, err := c.SendTransaction(ctx, signed(alice, 6, 1, nil)); err != nil {
		t.Fatalf("second pending tx: %v", err)
	}
	_, err = c.SendTransaction(ctx, signed(alice, 7, 1, nil))
	wantCode("mempool full", err, rpc.CodeMempoolFull)
	big := make([]byte, ledger.TxBytesMax+1)
	_, err = c.SendRawTransaction(ctx, big)
	wantCode("too large", err, rpc.CodeTxTooLarge)

	// JSON-RPC protocol errors, and methods that do not exist here.
	var out json.RawMessage
	wantCode("unknown method", c.Call(ctx, &out, "synod_noSuchMethod"), rpc.CodeMethodNotFound)
	wantCode("omReport without om_verify", c.Call(ctx, &out, "synod_omReport", "latest"), rpc.CodeMethodNotFound)
	wantCode("wrong param type", c.Call(ctx, &out, "synod_getBalance", 42, "latest"), rpc.CodeInvalidParams)
	for body, code := range map[string]int{
		`{"jsonrpc":"2.0","id":1,"method":`:                     rpc.CodeParseError,
		`{"jsonrpc":"1.0","id":1,"method":"synod_blockNumber"}`: rpc.CodeInvalidRequest,
		`[]`: rpc.CodeInvalidRequest,
	} {
		if got := rawCode(t, httpURL, body); got != code {
			t.Fatalf("body %s: code %d, want %d", body, got, code)
		}
	}
	// The node still serves after all that, and reports itself healthy.
	resp, err := http.Get(strings.TrimSuffix(httpURL, "/") + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %s", resp.Status)
	}
}

// rawCode posts body and returns the JSON-RPC error code of the answer.
func rawCode(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var one struct {
		Error *struct{ Code int } `json:"error"`
	}
	if json.Unmarshal(raw, &one) == nil && one.Error != nil {
		return one.Error.Code
	}
	var many []struct {
		Error *struct{ Code int } `json:"error"`
	}
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 && many[0].Error != nil {
		return many[0].Error.Code
	}
	t.Fatalf("no error in %s", raw)
	return 0
}

// TestPrunedNodeAnswersBalancesOnlyAtTheHead runs a validator whose store
// keeps no account history: the latest balance (and the head's, by
// height) is answered, an earlier height gets CodeHistoryPruned.
func TestPrunedNodeAnswersBalancesOnlyAtTheHead(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node; skipped in -short")
	}
	ln := newLocalNet(t, 1, 1)
	ln.configure = func(_ int, c *Config) { c.Store.PruneHistory = true }
	ln.start(0)
	ln.waitFor("height 2", 30*time.Second, func() bool { return ln.heights(0)[0] >= 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := client.NewHTTP(ln.nodes[0].RPC, nil)
	addr := ln.wallets[0].Public().Address()
	want := uint64(ln.genesis.Accounts[0].Amount)
	if ln.genesis.Accounts[0].Address != addr {
		t.Fatal("genesis account 0 is not wallet 0")
	}
	if bal, err := c.Balance(ctx, addr, rpc.Latest); err != nil || bal != want {
		t.Fatalf("latest balance %d, %v; want %d", bal, err, want)
	}
	_, err := c.Balance(ctx, addr, rpc.AtHeight(0))
	if code := client.ErrorCode(err); code != rpc.CodeHistoryPruned || !strings.Contains(err.Error(), "prune_history") {
		t.Fatalf("balance at height 0: code %d (%v), want %d", code, err, rpc.CodeHistoryPruned)
	}
	if ln.node(0).store.KeepsHistory() {
		t.Fatal("the node's store keeps history though prune_history is set")
	}
}
