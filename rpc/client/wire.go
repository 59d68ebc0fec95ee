package client

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/rpc/internal/jsonscan"
)

// The client's hot path is a wallet or load generator sending batches of
// raw txs: requests whose params are hex strings, answered with hashes.
// encodeRequest, scanResponse and decodeResult write and read those
// without reflection, in one pass; anything else goes through
// encoding/json, and both ways give the same bytes and values
// (TestEncodeRequestMatchesMarshal, FuzzScanResponseMatchesUnmarshal).

// encodeRequest appends r's JSON encoding to buf, the bytes json.Marshal
// gives.
func encodeRequest(buf []byte, r wireRequest) ([]byte, error) {
	if fast, ok := appendPlainRequest(buf, r); ok {
		return fast, nil
	}
	enc, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("rpc client: encode request: %w", err)
	}
	return append(buf, enc...), nil
}

// encodeBatch encodes reqs as one JSON-RPC batch, in one allocation.
func encodeBatch(reqs []wireRequest) ([]byte, error) {
	hint := 2
	for _, r := range reqs {
		hint += sizeHint(r)
	}
	payload := append(make([]byte, 0, hint), '[')
	for i, r := range reqs {
		if i > 0 {
			payload = append(payload, ',')
		}
		var err error
		if payload, err = encodeRequest(payload, r); err != nil {
			return nil, err
		}
	}
	return append(payload, ']'), nil
}

// appendPlainRequest encodes a request whose method and string params are
// plain (jsonscan.Plain) and whose params are strings, bools and
// integers: what encoding/json would write for them, without reflection.
func appendPlainRequest(buf []byte, r wireRequest) ([]byte, bool) {
	if r.JSONRPC != "2.0" || !jsonscan.Plain(r.Method) || !htmlSafe(r.Method) {
		return nil, false
	}
	at := len(buf)
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	buf = strconv.AppendUint(buf, r.ID, 10)
	buf = append(buf, `,"method":"`...)
	buf = append(buf, r.Method...)
	buf = append(buf, `","params":`...)
	if r.Params == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '[')
		for i, p := range r.Params {
			if i > 0 {
				buf = append(buf, ',')
			}
			switch v := p.(type) {
			case string:
				if !jsonscan.Plain(v) || !htmlSafe(v) {
					return buf[:at], false
				}
				buf = append(buf, '"')
				buf = append(buf, v...)
				buf = append(buf, '"')
			case bool:
				buf = strconv.AppendBool(buf, v)
			case int:
				buf = strconv.AppendInt(buf, int64(v), 10)
			case int64:
				buf = strconv.AppendInt(buf, v, 10)
			case uint64:
				buf = strconv.AppendUint(buf, v, 10)
			default:
				return buf[:at], false
			}
		}
		buf = append(buf, ']')
	}
	return append(buf, '}'), true
}

// sizeHint is about the length of r's encoding, to allocate a batch's
// body once.
func sizeHint(r wireRequest) int {
	n := 64 + len(r.Method)
	for _, p := range r.Params {
		if s, ok := p.(string); ok {
			n += len(s) + 3
		} else {
			n += 24
		}
	}
	return n
}

// htmlSafe reports whether s has none of the characters json.Marshal
// escapes for HTML ('<', '>', '&').
func htmlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// scanResponse reads a response object as json.Unmarshal into
// wireResponse would, or declines: it takes only the members a server's
// answer has ("jsonrpc", "id", "result", "error"), each once, named
// exactly (encoding/json would also match other spellings).
func scanResponse(body []byte) (*wireResponse, bool) {
	var r wireResponse
	var seen [4]bool
	ok := true
	read := jsonscan.Members(body, func(name string, raw []byte) {
		var k int
		switch name {
		case "jsonrpc":
			k = 0
		case "id":
			k, r.ID = 1, raw
		case "result":
			k, r.Result = 2, raw
		case "error":
			k = 3
			if string(raw) != "null" {
				r.Error = new(wireError)
				if json.Unmarshal(raw, r.Error) != nil {
					ok = false
				}
			}
		default:
			ok = false
			return
		}
		if seen[k] {
			ok = false
		}
		seen[k] = true
	})
	if !read || !ok {
		return nil, false
	}
	return &r, true
}

// scanBatchResponse reads a batch response as json.Unmarshal into
// []*wireResponse would, or declines.
func scanBatchResponse(body []byte) ([]*wireResponse, bool) {
	items, ok := jsonscan.Array(body)
	if !ok {
		return nil, false
	}
	out := make([]*wireResponse, len(items))
	for i, raw := range items {
		if string(raw) == "null" {
			continue // json.Unmarshal leaves a nil pointer
		}
		if out[i], ok = scanResponse(raw); !ok {
			return nil, false
		}
	}
	return out, true
}

// decodeHashResult reads a plain JSON string result into a hash without
// reflection, and reports whether it could.
func decodeHashResult(raw json.RawMessage, h *crypto.Hash) (bool, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' || !jsonscan.Plain(raw[1:len(raw)-1]) {
		return false, nil
	}
	return true, h.UnmarshalText(raw[1 : len(raw)-1])
}
