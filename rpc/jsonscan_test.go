package rpc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// scanSeeds are bodies for the scanner's tests: requests as clients send
// them, and the JSON corners the fast path must get right or decline.
var scanSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"synod_sendRawTransaction","params":["0x0108ab"]}`,
	`[{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber"},{"jsonrpc":"2.0","id":"b","method":"synod_status","params":[]}]`,
	` [ {"a" : [1, -2.5e+3, 0.0, true, false, null, {"x":{}}, []] } , "s" , 7 ] `,
	`{"id":1,"id":2,"method":"m","method":"n"}`,
	`{"id":null}`, `{}`, `[]`, `[ ]`, `{ }`,
	`{"a":"\u00e9"}`, `{"a\n":1}`, `{"é":1}`, `["\"", "\\"]`,
	`[01]`, `[1.]`, `[.5]`, `[-]`, `[1e]`, `[1e+]`, `[-0]`, `[0e0]`, `[1E-7]`,
	`[1,]`, `[,1]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{1:2}`, `[tru]`, `[nul]`, `[true false]`,
	`[1] [2]`, `[1]x`, `{"a":1}}`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	"[\"tab\there\"]", "[\"del\x7f\"]", "[\"\xff\"]", "\t[1]\r\n", "", " ", "null", `"x"`, `1`,
}

// TestScanMatchesEncodingJSON checks the fast path against encoding/json
// on the seeds, and that it takes the bodies it exists for.
func TestScanMatchesEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		checkScan(t, []byte(s))
	}
	taken := []string{scanSeeds[0], scanSeeds[1], scanSeeds[2], scanSeeds[3], `[]`, `{}`}
	for _, s := range taken {
		_, okB := scanBatch([]byte(s))
		_, okR := scanRequest([]byte(s))
		if !okB && !okR {
			t.Errorf("fast path declined %q", s)
		}
	}
	members, ok := scanRequest([]byte(scanSeeds[3]))
	if !ok || string(members["id"]) != "2" || string(members["method"]) != `"n"` {
		t.Errorf("repeated names: got %q, want the last of each", members)
	}
	deep := strings.Repeat("[", scanDepthMax+1) + strings.Repeat("]", scanDepthMax+1)
	if _, ok := scanBatch([]byte(deep)); ok {
		t.Errorf("fast path took nesting deeper than %d", scanDepthMax)
	}
	for _, bad := range []string{`[1,]`, `[01]`, `[1] [2]`, `{"a":1,}`, `[1e]`, "[\"\xff\"]", `{"a\n":1}`} {
		_, okB := scanBatch([]byte(bad))
		_, okR := scanRequest([]byte(bad))
		if okB || okR {
			t.Errorf("fast path took %q", bad)
		}
	}
}

// FuzzScanMatchesEncodingJSON: whenever the fast path accepts a body, it
// returns what encoding/json returns for it, so it can change no answer.
func FuzzScanMatchesEncodingJSON(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkScan(t, body)
	})
}

func checkScan(t *testing.T, body []byte) {
	t.Helper()
	if items, ok := scanBatch(body); ok {
		var want []json.RawMessage
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("scanBatch took %q, which encoding/json refuses: %v", body, err)
		}
		if !sameRaws(items, want) {
			t.Fatalf("scanBatch(%q) = %q, encoding/json %q", body, items, want)
		}
	}
	if members, ok := scanRequest(body); ok {
		var want map[string]json.RawMessage
		if err := json.Unmarshal(body, &want); err != nil || want == nil {
			t.Fatalf("scanRequest took %q, which encoding/json refuses: %v", body, err)
		}
		if len(members) != len(want) {
			t.Fatalf("scanRequest(%q) = %q, encoding/json %q", body, members, want)
		}
		for k, v := range want {
			if got, ok := members[k]; !ok || !bytes.Equal(got, v) {
				t.Fatalf("scanRequest(%q)[%q] = %q, encoding/json %q", body, k, got, v)
			}
		}
	}
	// The whole decode agrees with the general path's.
	fast, fastErr := decodeMessage(body, 100)
	slow, slowErr := decodeMessageGeneral(body, 100)
	if !reflect.DeepEqual(fastErr, slowErr) || !sameMessages(fast, slow) {
		t.Fatalf("decodeMessage(%q) differs from the general path", body)
	}
}

func sameRaws(a, b []json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func sameMessages(a, b message) bool {
	if a.batch != b.batch || len(a.items) != len(b.items) {
		return false
	}
	for i := range a.items {
		x, y := a.items[i], b.items[i]
		if !reflect.DeepEqual(x.err, y.err) || (x.req == nil) != (y.req == nil) {
			return false
		}
		if x.req != nil && (x.req.method != y.req.method || !bytes.Equal(x.req.id, y.req.id) || !bytes.Equal(x.req.params, y.req.params)) {
			return false
		}
	}
	return true
}

// decodeMessageGeneral is decodeMessage through encoding/json alone, as
// it was before the fast path.
func decodeMessageGeneral(data []byte, batchMax int) (message, *response) {
	data = bytes.TrimSpace(data)
	item := func(raw json.RawMessage) messageItem {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return messageItem{err: errorResponse(nil, errInvalidRequest("request must be a JSON object"))}
		}
		id, hasID := obj["id"]
		if hasID && !validID(id) {
			return messageItem{err: errorResponse(nil, errInvalidRequest("id must be a string, a number or null"))}
		}
		var version, method string
		if err := json.Unmarshal(obj["jsonrpc"], &version); err != nil || version != jsonrpcVersion {
			return messageItem{err: errorResponse(id, errInvalidRequest(`"jsonrpc" must be "2.0"`))}
		}
		if err := json.Unmarshal(obj["method"], &method); err != nil || method == "" {
			return messageItem{err: errorResponse(id, errInvalidRequest(`"method" must be a non-empty string`))}
		}
		req := &request{method: method, params: obj["params"]}
		if hasID {
			req.id = id
		}
		return messageItem{req: req}
	}
	if len(data) > 0 && data[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			return message{}, errorResponse(nil, &Error{Code: CodeParseError, Message: "parse error: body is not valid JSON"})
		}
		if len(raws) == 0 {
			return message{}, errorResponse(nil, errInvalidRequest("empty batch"))
		}
		if len(raws) > batchMax {
			return message{}, errorResponse(nil, errInvalidRequest("batch of %d items exceeds the limit of %d", len(raws), batchMax))
		}
		msg := message{batch: true, items: make([]messageItem, len(raws))}
		for i, raw := range raws {
			msg.items[i] = item(raw)
		}
		return msg, nil
	}
	if !json.Valid(data) {
		return message{}, errorResponse(nil, &Error{Code: CodeParseError, Message: "parse error: body is not valid JSON"})
	}
	return message{items: []messageItem{item(data)}}, nil
}

// TestPlainBytes checks the eight-bytes-at-a-time test against the plain
// one for every byte value at every position of a 17-byte string (two
// words and a tail).
func TestPlainBytes(t *testing.T) {
	plain := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	buf := []byte("0123456789abcdef0")
	for pos := range buf {
		for c := range 256 {
			b := append([]byte(nil), buf...)
			b[pos] = byte(c)
			if got, want := plainBytes(b), plain(b); got != want {
				t.Fatalf("plainBytes with byte %#x at %d = %v, want %v", c, pos, got, want)
			}
		}
	}
}
