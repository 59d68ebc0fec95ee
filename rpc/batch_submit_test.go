package rpc_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// batchingBackend admits txs through SubmitTxs, one tx at a time inside,
// and records how it was called.
type batchingBackend struct {
	*rpctest.Backend
	mu    sync.Mutex
	calls [][]*ledger.Tx
}

func (b *batchingBackend) SubmitTxs(txs []*ledger.Tx) []error {
	b.mu.Lock()
	b.calls = append(b.calls, txs)
	b.mu.Unlock()
	errs := make([]error, len(txs))
	for i, tx := range txs {
		errs[i] = b.Backend.SubmitTx(tx)
	}
	return errs
}

func TestBatchOfTransactionsReachesSubmitTxsOnce(t *testing.T) {
	// Goal: a JSON-RPC batch's synod_sendRawTransaction calls reach a
	// BatchSubmitter in one call, each answer lands on its own id, and
	// items that do not parse or call other methods answer as usual;
	// method: a mixed batch against a backend that records its calls.
	f := newChain(t)
	b := &batchingBackend{Backend: f.backend}
	_, url := startServer(t, rpc.Config{}, b)
	good1 := rpctest.Transfer(2, 0, rpctest.Address(0), 1, 1)
	good2 := rpctest.Transfer(2, 1, rpctest.Address(0), 1, 1)
	stale := rpctest.Transfer(0, 0, rpctest.Address(1), 1, 1) // nonce 0 is committed
	items := []string{
		fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"synod_sendRawTransaction","params":[%q]}`, rawTx(good1)),
		`{"jsonrpc":"2.0","id":2,"method":"synod_sendRawTransaction","params":["0xzz"]}`,
		`{"jsonrpc":"2.0","id":3,"method":"synod_blockNumber","params":[]}`,
		fmt.Sprintf(`{"jsonrpc":"2.0","id":4,"method":"synod_sendRawTransaction","params":[%q]}`, rawTx(stale)),
		fmt.Sprintf(`{"jsonrpc":"2.0","id":5,"method":"synod_sendRawTransaction","params":[%q]}`, rawTx(good2)),
		`{"jsonrpc":"2.0","id":6,"method":"synod_sendRawTransaction","params":{}}`,
	}
	_, body := post(t, url, "["+strings.Join(items, ",")+"]")
	var resps []rpcResponse
	if err := json.Unmarshal([]byte(body), &resps); err != nil {
		t.Fatalf("batch response %q: %v", body, err)
	}
	byID := map[string]rpcResponse{}
	for _, r := range resps {
		byID[string(r.ID)] = r
	}
	if len(byID) != len(items) {
		t.Fatalf("%d responses for %d items: %s", len(byID), len(items), body)
	}
	wantHash := func(id string, tx *ledger.Tx) {
		t.Helper()
		var got string
		if r := byID[id]; r.Error != nil || json.Unmarshal(r.Result, &got) != nil || got != tx.Hash().String() {
			t.Errorf("id %s: %s %+v, want hash %s", id, r.Result, r.Error, tx.Hash())
		}
	}
	wantCode := func(id string, code int) {
		t.Helper()
		if r := byID[id]; r.Error == nil || r.Error.Code != code {
			t.Errorf("id %s: error %+v, want code %d", id, r.Error, code)
		}
	}
	wantHash("1", good1)
	wantCode("2", rpc.CodeInvalidParams)
	if r := byID["3"]; r.Error != nil || string(r.Result) != "2" {
		t.Errorf("blockNumber in the batch: %s %+v", r.Result, r.Error)
	}
	wantCode("4", rpc.CodeTxNonceTooLow)
	wantHash("5", good2)
	wantCode("6", rpc.CodeInvalidParams)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.calls) != 1 || len(b.calls[0]) != 3 {
		t.Fatalf("SubmitTxs calls %v, want one call with the 3 txs that parse", len(b.calls))
	}
}
