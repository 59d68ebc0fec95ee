package rpc_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/synod-chain/synod/rpc"
)

func TestBatchResponsesStopAtTheLimit(t *testing.T) {
	// Goal: a small batch asking for many large results cannot make the
	// server build responses without bound; past BatchResponseBytesMax
	// the calls not yet run are answered with CodeResponseTooLarge, each
	// on its own id. Method: 50 requests for the same full block with a
	// limit of about five of them.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{}, f.backend)
	one := call(t, url, "synod_getBlockByNumber", 1, true)
	if one.Error != nil {
		t.Fatalf("block 1: %+v", one.Error)
	}
	blockBytes := len(one.Result)
	limit := 5 * blockBytes
	_, url = startServer(t, rpc.Config{BatchResponseBytesMax: int64(limit)}, f.backend)

	const calls = 50
	reqs := make([]string, calls)
	for i := range reqs {
		reqs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"synod_getBlockByNumber","params":[1,true]}`, i)
	}
	_, body := post(t, url, "["+strings.Join(reqs, ",")+"]")
	var resps []rpcResponse
	if err := json.Unmarshal([]byte(body), &resps); err != nil {
		t.Fatalf("batch answer %.200q: %v", body, err)
	}
	seen := map[string]bool{}
	answered, refused, resultBytes := 0, 0, 0
	for _, r := range resps {
		seen[string(r.ID)] = true
		switch {
		case r.Error == nil:
			answered++
			resultBytes += len(r.Result)
		case r.Error.Code == rpc.CodeResponseTooLarge:
			refused++
		default:
			t.Fatalf("id %s: unexpected error %+v", r.ID, r.Error)
		}
	}
	if len(resps) != calls || len(seen) != calls {
		t.Fatalf("%d responses with %d distinct ids for %d calls", len(resps), len(seen), calls)
	}
	// Each of the batch's workers (8) may be running a call when the
	// limit is reached; those finish.
	if refused == 0 || answered == 0 || resultBytes > limit+8*blockBytes {
		t.Fatalf("%d answered (%d result bytes, limit %d), %d refused", answered, resultBytes, limit, refused)
	}
}
