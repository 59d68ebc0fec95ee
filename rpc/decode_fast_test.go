package rpc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// decodeSeeds are request bodies, well formed and not, for the check that
// decodeMessage's fast path answers as encoding/json alone would.
var decodeSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"synod_sendRawTransaction","params":["0x0108ab"]}`,
	`[{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber"},{"jsonrpc":"2.0","id":"b","method":"synod_status","params":[]}]`,
	`{"id":1,"id":2,"jsonrpc":"2.0","method":"m","method":"n"}`,
	`{"jsonrpc":"2.0","id":null,"method":"\u0073ynod_status"}`,
	`{"jsonrpc":"2.0","id":true,"method":"m"}`, `{"jsonrpc":"1.0","id":1,"method":"m"}`, `{"jsonrpc":"2.0","id":1}`,
	`[1, "x", null, {}]`, `[]`, `{}`, `[{"jsonrpc":"2.0","id":1,"method":"m"},]`, `{"a":1}}`, ``, `null`, "\t[ ]\n", "\v{}", "[]\u00a0",
}

// TestDecodeMessageMatchesGeneral: on the seeds, decodeMessage (with the
// one-pass scanner) decodes as encoding/json alone does.
func TestDecodeMessageMatchesGeneral(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
}

// FuzzDecodeMessageMatchesGeneral: on any body, decodeMessage decodes as
// encoding/json alone does, so the fast path changes no answer.
func FuzzDecodeMessageMatchesGeneral(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecode(t, body) })
}

func checkDecode(t *testing.T, body []byte) {
	t.Helper()
	// A limit of 1 takes the over-long batch's way on most batches.
	for _, batchMax := range []int{100, 1} {
		fast, fastErr := decodeMessage(body, batchMax)
		slow, slowErr := decodeMessageGeneral(body, batchMax)
		if !reflect.DeepEqual(fastErr, slowErr) || !sameMessages(fast, slow) {
			t.Fatalf("decodeMessage(%q, %d) differs from the general path", body, batchMax)
		}
	}
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
	data = bytes.Trim(data, " \t\n\r")
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
