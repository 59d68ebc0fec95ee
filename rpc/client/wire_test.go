package client

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/synod-chain/synod/crypto"
)

// TestEncodeRequestMatchesMarshal: the hand-written encoding is byte for
// byte what json.Marshal writes, for the params it takes and those it
// leaves to encoding/json.
func TestEncodeRequestMatchesMarshal(t *testing.T) {
	for _, r := range []wireRequest{
		{JSONRPC: "2.0", ID: 7, Method: "synod_sendRawTransaction", Params: []any{"0x01ab"}},
		{JSONRPC: "2.0", ID: 1<<64 - 1, Method: "synod_getBlockByNumber", Params: []any{uint64(5), true}},
		{JSONRPC: "2.0", ID: 0, Method: "synod_status", Params: []any{}},
		{JSONRPC: "2.0", ID: 3, Method: "m", Params: nil},
		{JSONRPC: "2.0", ID: 3, Method: "m", Params: []any{-4, int64(-9), false, ""}},
		{JSONRPC: "2.0", ID: 4, Method: "m", Params: []any{"a<b", "q\"uote", "\u00e9", "tab\t", "del\x7f"}},
		{JSONRPC: "2.0", ID: 5, Method: "m&", Params: []any{1.5, nil, []string{"x"}}},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeRequest([]byte("prefix"), r)
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("encodeRequest(%+v) = %s, %v; json.Marshal: %s", r, got, err, want)
		}
	}
	if _, ok := appendPlainRequest(nil, wireRequest{JSONRPC: "2.0", ID: 1, Method: "synod_sendRawTransaction", Params: []any{"0x01"}}); !ok {
		t.Error("a raw tx submission did not take the fast path")
	}
}

// TestScanResponseTakesServerAnswers: the answers a Synod server gives
// take the fast path.
func TestScanResponseTakesServerAnswers(t *testing.T) {
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"result":"0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}`,
		`{"jsonrpc":"2.0","id":"x","error":{"code":-32005,"message":"tx: nonce too low"}}`,
	} {
		if _, ok := scanResponse([]byte(body)); !ok {
			t.Errorf("%s did not take the fast path", body)
		}
	}
	if _, ok := scanBatchResponse([]byte(`[{"jsonrpc":"2.0","id":1,"result":true},{"jsonrpc":"2.0","id":2,"result":null}]`)); !ok {
		t.Error("a batch answer did not take the fast path")
	}
}

// FuzzScanResponseMatchesUnmarshal: whenever the fast path reads a
// response or a batch of them, it reads what json.Unmarshal reads; a hash
// result decodes as json.Unmarshal decodes it.
func FuzzScanResponseMatchesUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":"0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}`,
		`[{"jsonrpc":"2.0","id":1,"result":"0x01"},null,{"jsonrpc":"2.0","id":2,"error":{"code":-32009,"message":"dup","data":[1]}}]`,
		`{"id":1,"id":2}`, `{"ID":1}`, `{"error":null,"result":null}`, `{"error":{"code":"x"}}`, `[]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, ok := scanResponse(body); ok {
			var want wireResponse
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatalf("scanResponse took %q, which json.Unmarshal refuses: %v", body, err)
			}
			if !sameResponse(got, &want) {
				t.Fatalf("scanResponse(%q) = %+v, json.Unmarshal %+v", body, got, want)
			}
			var h1, h2 crypto.Hash
			if done, err := decodeHashResult(got.Result, &h1); done {
				err2 := json.Unmarshal(got.Result, &h2)
				if (err == nil) != (err2 == nil) || h1 != h2 {
					t.Fatalf("hash result %q: %v %v, json.Unmarshal %v %v", got.Result, h1, err, h2, err2)
				}
			}
		}
		if got, ok := scanBatchResponse(body); ok {
			var want []*wireResponse
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatalf("scanBatchResponse took %q, which json.Unmarshal refuses: %v", body, err)
			}
			if len(got) != len(want) {
				t.Fatalf("scanBatchResponse(%q): %d items, json.Unmarshal %d", body, len(got), len(want))
			}
			for i := range got {
				if (got[i] == nil) != (want[i] == nil) || got[i] != nil && !sameResponse(got[i], want[i]) {
					t.Fatalf("scanBatchResponse(%q)[%d] = %+v, json.Unmarshal %+v", body, i, got[i], want[i])
				}
			}
		}
	})
}

func sameResponse(a, b *wireResponse) bool {
	return bytes.Equal(a.ID, b.ID) && bytes.Equal(a.Result, b.Result) && reflect.DeepEqual(a.Error, b.Error) &&
		a.Method == b.Method && b.Params == nil
}

// BenchmarkBatchWire is the client's side of one 10-tx submission: the
// request encoded, the batch answer read, the hashes decoded; with the
// hand-written path (fast) and through encoding/json alone (general).
func BenchmarkBatchWire(b *testing.B) {
	hexTx := "0x" + string(bytes.Repeat([]byte("0123456789abcdef"), 500/16))
	reqs := make([]wireRequest, 10)
	var answer []byte
	answer = append(answer, '[')
	for i := range reqs {
		reqs[i] = wireRequest{JSONRPC: "2.0", ID: uint64(i + 1), Method: "synod_sendRawTransaction", Params: []any{hexTx}}
		if i > 0 {
			answer = append(answer, ',')
		}
		answer = append(answer, `{"jsonrpc":"2.0","id":`...)
		answer = strconv.AppendInt(answer, int64(i+1), 10)
		answer = append(answer, `,"result":"0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}`...)
	}
	answer = append(answer, ']')
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeBatch(reqs); err != nil {
				b.Fatal(err)
			}
			resps, ok := scanBatchResponse(answer)
			if !ok {
				b.Fatal("declined")
			}
			for _, r := range resps {
				var h crypto.Hash
				if err := decodeResult(r, &h); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("general", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(reqs); err != nil {
				b.Fatal(err)
			}
			var resps []*wireResponse
			if err := json.Unmarshal(answer, &resps); err != nil {
				b.Fatal(err)
			}
			for _, r := range resps {
				var h crypto.Hash
				if err := json.Unmarshal(r.Result, &h); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
