package jsonscan

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
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
	`["a,\"b,", "c\\", [1,2], {"x,":[3,4]}, "]"]`, `[[],{},""]`,
	"[\"tab\there\"]", "[\"del\x7f\"]", "[\"\xff\"]", "\t[1]\r\n", "", " ", "null", `"x"`, `1`,
}

// TestMatchesEncodingJSON checks Array, Batch and Object against encoding/json
// on the seeds, and that they take the bodies they exist for.
func TestMatchesEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		check(t, []byte(s))
	}
	taken := []string{scanSeeds[0], scanSeeds[1], scanSeeds[2], scanSeeds[3], `[]`, `{}`}
	for _, s := range taken {
		_, okB := Array([]byte(s))
		_, okR := Object([]byte(s))
		if !okB && !okR {
			t.Errorf("fast path declined %q", s)
		}
	}
	members, ok := Object([]byte(scanSeeds[3]))
	if !ok || string(members["id"]) != "2" || string(members["method"]) != `"n"` {
		t.Errorf("repeated names: got %q, want the last of each", members)
	}
	deep := strings.Repeat("[", DepthMax+1) + strings.Repeat("]", DepthMax+1)
	if _, ok := Array([]byte(deep)); ok {
		t.Errorf("fast path took nesting deeper than %d", DepthMax)
	}
	for _, bad := range []string{`[1,]`, `[01]`, `[1] [2]`, `{"a":1,}`, `[1e]`, "[\"\xff\"]", `{"a\n":1}`} {
		_, okB := Array([]byte(bad))
		_, okR := Object([]byte(bad))
		if okB || okR {
			t.Errorf("fast path took %q", bad)
		}
	}
}

// FuzzMatchesEncodingJSON: whenever the fast path accepts a body, it
// returns what encoding/json returns for it, so it can change no answer.
func FuzzMatchesEncodingJSON(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check(t, body)
	})
}

func check(t *testing.T, body []byte) {
	t.Helper()
	items, ok := Array(body)
	if ok {
		var want []json.RawMessage
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("Array took %q, which encoding/json refuses: %v", body, err)
		}
		if !slices.EqualFunc(items, want, sameRaw) {
			t.Fatalf("Array(%q) = %q, encoding/json %q", body, items, want)
		}
	}
	// Batch takes what Array takes, and reads each object item as Object.
	batchItems, objects, n, batchOK := Batch(body, math.MaxInt)
	if batchOK != ok || !slices.EqualFunc(batchItems, items, sameRaw) || len(objects) != len(items) || n != len(items) {
		t.Fatalf("Batch(%q) = %q, %d, %v; Array %q, %v", body, batchItems, n, batchOK, items, ok)
	}
	// Under a limit it takes the same bodies and counts the same items,
	// keeping them only within the limit.
	for _, limit := range []int{0, 1, 2} {
		kept, keptObjects, n, limitOK := Batch(body, limit)
		if limitOK != ok || n != len(items) || n <= limit && !slices.EqualFunc(kept, items, sameRaw) ||
			n > limit && (kept != nil || keptObjects != nil) {
			t.Fatalf("Batch(%q, %d) = %q, %d, %v; Array %q, %v", body, limit, kept, n, limitOK, items, ok)
		}
	}
	// Len counts the elements of every array encoding/json accepts.
	var all []json.RawMessage
	if json.Unmarshal(body, &all) == nil && all != nil && Len(body) != len(all) {
		t.Fatalf("Len(%q) = %d, encoding/json reads %d elements", body, Len(body), len(all))
	}
	for i, item := range items {
		if members, isObject := Object(item); isObject != (objects[i] != nil) || !maps.EqualFunc(members, objects[i], sameRaw) {
			t.Fatalf("Batch(%q) item %d has members %q, Object %q", body, i, objects[i], members)
		}
	}
	if members, ok := Object(body); ok {
		var want map[string]json.RawMessage
		if err := json.Unmarshal(body, &want); err != nil || want == nil {
			t.Fatalf("Object took %q, which encoding/json refuses: %v", body, err)
		}
		if !maps.EqualFunc(members, want, sameRaw) {
			t.Fatalf("Object(%q) = %q, encoding/json %q", body, members, want)
		}
	}
}

func sameRaw(a, b json.RawMessage) bool { return bytes.Equal(a, b) }

// TestPlain checks the eight-bytes-at-a-time test against the plain
// one for every byte value at every position of a 17-byte string (two
// words and a tail).
func TestPlain(t *testing.T) {
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
			if got, want := Plain(b), plain(b); got != want {
				t.Fatalf("Plain with byte %#x at %d = %v, want %v", c, pos, got, want)
			}
		}
	}
}
