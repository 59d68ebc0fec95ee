package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// FuzzDecodeMessage checks the request decoder on arbitrary bodies: it
// never panics, and every body yields either one error response or items
// that are each a request or an error, never more items than the batch
// limit; the dispatcher's output (with no methods) is always valid JSON.
func FuzzDecodeMessage(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"synod_blockNumber","params":[]}`,
		`[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"},1]`,
		`{"jsonrpc":"2.0","id":{"a":1},"method":"x"}`,
		`{"jsonrpc":"2.0","id":null,"method":"x","params":{"a":1}}`,
		`[]`, `[[]]`, `null`, `"x"`, `{`, ``, `{"jsonrpc":"2.0","id":1e400,"method":"x"}`,
		`{"jsonrpc":"2.0","id":"\u0000","method":"\ud800","params":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	const batchMax = 8
	d := &dispatcher{
		methods: registry{"t_echo": func(_ context.Context, c *Call) (any, error) {
			if err := c.Params.count(0, 2); err != nil {
				return nil, err
			}
			return len(c.Params), nil
		}},
		batchMax: batchMax,
		log:      slog.New(slog.DiscardHandler),
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, errResp := decodeMessage(body, batchMax)
		if errResp != nil {
			if len(msg.items) != 0 || errResp.Error == nil {
				t.Fatalf("error response with items or without error: %+v", errResp)
			}
		} else {
			if len(msg.items) == 0 || len(msg.items) > batchMax {
				t.Fatalf("%d items", len(msg.items))
			}
			for _, it := range msg.items {
				if (it.req == nil) == (it.err == nil) {
					t.Fatalf("item is neither request nor error: %+v", it)
				}
				if it.req != nil && it.req.id != nil && !validID(it.req.id) {
					t.Fatalf("request with invalid id %s", it.req.id)
				}
			}
		}
		out, _ := d.handle(context.Background(), body, nil)
		if out != nil && !json.Valid(out) {
			t.Fatalf("invalid JSON out: %s", out)
		}
	})
}

func TestValidID(t *testing.T) {
	// Goal: ids are strings, numbers or null, nothing else (JSON-RPC 2.0
	// section 4); method: table.
	for id, want := range map[string]bool{
		`1`: true, `-1`: true, `1.5`: true, `"a"`: true, `null`: true,
		`true`: false, `{}`: false, `[]`: false, `nul`: false, ``: false,
	} {
		if got := validID(json.RawMessage(id)); got != want {
			t.Errorf("validID(%s) = %v", id, got)
		}
	}
}

// FuzzParamsString checks the one-pass string reader against
// encoding/json: on any valid JSON value, Params.String returns what
// json.Unmarshal into a string returns, or an error exactly when that
// fails (null counts as absent).
func FuzzParamsString(f *testing.F) {
	for _, seed := range []string{`"0xdeadbeef"`, `"a\"b"`, `"\u00e9"`, `"é"`, `"tab	here"`, `""`, `null`, `12`, `[1]`, ` "x" `, "\"\xff\""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // params are cut from a body already checked
		}
		got, err := Params{raw}.String(0, "p")
		var want string
		wantErr := json.Unmarshal(raw, &want) != nil || !(Params{raw}).has(0)
		if (err != nil) != wantErr {
			t.Fatalf("%q: error %v, encoding/json error %v", raw, err, wantErr)
		}
		if err == nil && got != want {
			t.Fatalf("%q: read %q, encoding/json %q", raw, got, want)
		}
	})
}

// BenchmarkDecodeSendBatch decodes what a wallet sends under load: a
// JSON-RPC batch of 10 synod_sendRawTransaction calls, each a 250-byte
// tx in hex, down to the hex strings: with the one-pass scanner, and
// through encoding/json alone (general), for the ratio.
func BenchmarkDecodeSendBatch(b *testing.B) {
	b.Run("scan", func(b *testing.B) { benchDecodeSendBatch(b, decodeMessage) })
	b.Run("general", func(b *testing.B) { benchDecodeSendBatch(b, decodeMessageGeneral) })
}

func benchDecodeSendBatch(b *testing.B, decode func([]byte, int) (message, *response)) {
	var body []byte
	body = append(body, '[')
	for i := range 10 {
		if i > 0 {
			body = append(body, ',')
		}
		hex := make([]byte, 500)
		for j := range hex {
			hex[j] = "0123456789abcdef"[(i+j)%16]
		}
		body = append(body, `{"jsonrpc":"2.0","id":`...)
		body = append(body, byte('0'+i))
		body = append(body, `,"method":"synod_sendRawTransaction","params":["0x`...)
		body = append(body, hex...)
		body = append(body, `"]}`...)
	}
	body = append(body, ']')
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		msg, errResp := decode(body, 100)
		if errResp != nil {
			b.Fatal(errResp.Error)
		}
		for _, it := range msg.items {
			p, perr := parseParams(it.req.params)
			if perr != nil {
				b.Fatal(perr)
			}
			if _, perr := p.String(0, "tx"); perr != nil {
				b.Fatal(perr)
			}
		}
	}
}

// FuzzParseParams checks the one-string fast path of parseParams against
// encoding/json on any valid JSON: the same params, element for element,
// or an error exactly when the general path gives one.
func FuzzParseParams(f *testing.F) {
	for _, seed := range []string{`["0xab"]`, `[ "0xab" ]`, `["a","b"]`, `["a\"b"]`, `["é"]`, `[]`, `[1]`, `{"a":1}`, `null`, `["a"],`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // params are cut from a body already checked
		}
		got, gotErr := parseParams(raw)
		trimmed := bytes.TrimSpace(raw)
		if len(trimmed) == 0 || trimmed[0] != '[' {
			return // not an array: decided before either path
		}
		var want Params
		wantErr := json.Unmarshal(trimmed, &want) != nil || len(want) > ParamsMax
		if (gotErr != nil) != wantErr {
			t.Fatalf("%q: error %v, encoding/json error %v", raw, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d params, encoding/json %d", raw, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%q: param %d is %q, encoding/json %q", raw, i, got[i], want[i])
			}
		}
	})
}
