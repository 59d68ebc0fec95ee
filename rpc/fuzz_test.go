package rpc_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// FuzzHandler sends arbitrary bodies through the whole HTTP handler with
// the test backend: it never panics, every answer is 204 or valid JSON,
// and the server still answers a good request afterwards.
func FuzzHandler(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"synod_getBalance","params":["0x0000000000000000000000000000000000000000","latest"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"synod_sendRawTransaction","params":["0x01"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"synod_getBlockByNumber","params":[0,true]}`,
		`[{"jsonrpc":"2.0","id":1,"method":"synod_getNonce","params":["0x0000000000000000000000000000000000000000","pending"]}]`,
		`{"jsonrpc":"2.0","id":1,"method":"synod_getTransaction","params":["0x0000000000000000000000000000000000000000000000000000000000000000"]}`,
	} {
		f.Add([]byte(seed))
	}
	b, err := rpctest.New()
	if err != nil {
		f.Fatal(err)
	}
	defer b.Close()
	h := rpc.NewServer(rpc.Config{RequestBytesMax: 64 << 10}, b, nil).Handler()
	do := func(body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := do(body)
		if rec.Code != http.StatusNoContent && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("status %d, invalid JSON %q", rec.Code, rec.Body.Bytes())
		}
		if rec := do([]byte(`{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber"}`)); rec.Code != http.StatusOK {
			t.Fatalf("server broken after %q: %d", body, rec.Code)
		}
	})
}
