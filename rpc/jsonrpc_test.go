package rpc

import (
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
