package rpc

import (
	"bytes"
	"runtime"
	"testing"
)

// allocatedBy returns the bytes f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// jsonArray returns a JSON array of n copies of item.
func jsonArray(prefix, item string, n int, suffix string) []byte {
	b := append([]byte(prefix+"["), bytes.Repeat([]byte(item+","), n-1)...)
	return append(append(b, item...), "]"+suffix...)
}

func TestOverlongBatchIsRefusedWithoutDecodingIt(t *testing.T) {
	// Goal: a body of a great many tiny items, refused for their number,
	// costs little more memory than the body itself; method: 1 MiB
	// batches that the fast path reads ({}, 1) and that it leaves to
	// encoding/json (escaped strings), with the allocations counted.
	for _, body := range [][]byte{
		jsonArray("", "{}", 340_000, ""),
		jsonArray("", "1", 500_000, ""),
		jsonArray("", `"\u0041"`, 110_000, ""),
	} {
		var resp *response
		alloc := allocatedBy(func() { _, resp = decodeMessage(body, 100) })
		if resp == nil || resp.Error.Code != CodeInvalidRequest {
			t.Fatalf("%.20s…: answered %+v, want the batch refused", body, resp)
		}
		if alloc > 4*uint64(len(body)) {
			t.Errorf("%.20s…: refusing a %d-byte batch allocated %d bytes", body, len(body), alloc)
		}
	}
}

func TestOverlongParamsAreRefusedWithoutDecodingThem(t *testing.T) {
	// Goal: as above for the params of one request; method: 1 MiB of
	// params, decoded as the dispatcher does.
	body := jsonArray(`{"jsonrpc":"2.0","id":1,"method":"synod_status","params":`, "1", 500_000, "}")
	var perr *Error
	alloc := allocatedBy(func() {
		msg, resp := decodeMessage(body, 100)
		if resp != nil {
			t.Fatalf("answered %+v", resp)
		}
		_, perr = parseParams(msg.items[0].req.params)
	})
	if perr == nil || perr.Code != CodeInvalidParams {
		t.Fatalf("params: %v, want invalid params", perr)
	}
	if alloc > 4*uint64(len(body)) {
		t.Errorf("refusing %d bytes of params allocated %d bytes", len(body), alloc)
	}
}
