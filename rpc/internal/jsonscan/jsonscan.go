// Package jsonscan reads the JSON that JSON-RPC bodies are made of in one
// pass. A request body is mostly hex-encoded txs, and encoding/json reads
// every byte of it four times before a method sees it: json.Unmarshal
// checks a whole batch and then walks it to split the items, and checks
// and walks each item again to find its members. Array and Object do the
// same in one pass for what wallets, tools and nodes send: plain ASCII
// strings without escapes, nesting no deeper than DepthMax. Whatever they
// do not accept they leave to encoding/json, so they decide no outcome on
// their own: each either returns exactly what encoding/json would, or
// declines (FuzzMatchesEncodingJSON holds them to that).
package jsonscan

import (
	"bytes"
	"encoding/json"
)

// DepthMax bounds the nesting the fast path follows; deeper bodies go
// the general way (encoding/json has its own limit).
const DepthMax = 32

// scanner walks JSON text; ok turns false at the first byte it does not
// accept, and every method is then a no-op.
type scanner struct {
	data []byte
	off  int
	ok   bool
}

func (s *scanner) ws() {
	for s.off < len(s.data) {
		switch s.data[s.off] {
		case ' ', '\t', '\n', '\r':
			s.off++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	if s.off < len(s.data) {
		return s.data[s.off]
	}
	return 0
}

// expect consumes c or fails.
func (s *scanner) expect(c byte) {
	if s.ok && s.peek() == c {
		s.off++
		return
	}
	s.ok = false
}

// value consumes one JSON value (no surrounding whitespace) and returns
// its bytes.
func (s *scanner) value(depth int) []byte {
	if !s.ok {
		return nil
	}
	start := s.off
	switch c := s.peek(); {
	case c == '"':
		s.str()
	case c == '{':
		s.object(depth+1, nil)
	case c == '[':
		s.array(depth+1, nil)
	case c == '-' || c >= '0' && c <= '9':
		s.number()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	default:
		s.ok = false
	}
	if !s.ok {
		return nil
	}
	return s.data[start:s.off]
}

// str consumes a string of printable ASCII without escapes (Plain)
// and returns where its contents start and end.
func (s *scanner) str() (start, end int) {
	s.expect('"')
	if !s.ok {
		return 0, 0
	}
	n := bytes.IndexByte(s.data[s.off:], '"')
	if n < 0 {
		s.ok = false
		return 0, 0
	}
	if !Plain(s.data[s.off : s.off+n]) {
		s.ok = false // escapes, controls, non-ASCII: the general way
		return 0, 0
	}
	start, end = s.off, s.off+n
	s.off = end + 1
	return start, end
}

// number consumes a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() {
	if s.peek() == '-' {
		s.off++
	}
	switch c := s.peek(); {
	case c == '0':
		s.off++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		s.ok = false
		return
	}
	if s.peek() == '.' {
		s.off++
		s.digitsAtLeastOne()
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.off++
		if c := s.peek(); c == '+' || c == '-' {
			s.off++
		}
		s.digitsAtLeastOne()
	}
}

func (s *scanner) digits() {
	for c := s.peek(); c >= '0' && c <= '9'; c = s.peek() {
		s.off++
	}
}

func (s *scanner) digitsAtLeastOne() {
	if c := s.peek(); c < '0' || c > '9' {
		s.ok = false
		return
	}
	s.digits()
}

func (s *scanner) literal(word string) {
	if len(s.data)-s.off >= len(word) && string(s.data[s.off:s.off+len(word)]) == word {
		s.off += len(word)
		return
	}
	s.ok = false
}

// array consumes an array, handing each element to each (when not nil).
func (s *scanner) array(depth int, each func(raw []byte)) { s.arrayOf(depth, s.value, each) }

// arrayOf is array with each element read by elem.
func (s *scanner) arrayOf(depth int, elem func(depth int) []byte, each func(raw []byte)) {
	s.list(depth, '[', ']', func() {
		v := elem(depth)
		if s.ok && each != nil {
			each(v)
		}
	})
}

// object consumes an object, handing each member to each (when not nil).
func (s *scanner) object(depth int, each func(name string, raw []byte)) {
	s.list(depth, '{', '}', func() {
		start, end := s.str()
		s.ws()
		s.expect(':')
		s.ws()
		v := s.value(depth)
		if s.ok && each != nil {
			each(string(s.data[start:end]), v)
		}
	})
}

// list consumes open, comma-separated items (each read by item, which
// leaves s.ok false on error) and close: the shape arrays and objects
// share.
func (s *scanner) list(depth int, open, close byte, item func()) {
	if depth > DepthMax {
		s.ok = false
		return
	}
	s.expect(open)
	s.ws()
	if s.ok && s.peek() == close {
		s.off++
		return
	}
	for s.ok {
		s.ws()
		item()
		if !s.ok {
			return
		}
		s.ws()
		if s.peek() == ',' {
			s.off++
			continue
		}
		s.expect(close)
		return
	}
}

// end checks that only whitespace is left.
func (s *scanner) end() {
	s.ws()
	if s.off != len(s.data) {
		s.ok = false
	}
}

// Array splits data, a JSON array, into its elements as json.Unmarshal
// into []json.RawMessage would (the elements share data's bytes). ok is
// false when it declines: not an array, not valid JSON, or a string it
// does not read.
func Array(data []byte) (items []json.RawMessage, ok bool) {
	s := scanner{data: data, ok: true}
	s.ws()
	if s.peek() != '[' {
		return nil, false
	}
	items = []json.RawMessage{}
	s.array(1, func(raw []byte) { items = append(items, raw) })
	s.end()
	if !s.ok {
		return nil, false
	}
	return items, true
}

// Batch is Array that also reads each element that is an object into its
// members, as Object would, in the same pass: objects[i] is items[i]'s
// members, or nil when items[i] is not an object. A JSON-RPC batch is
// read once, not split and then read again item by item. n is the number
// of elements; past itemsMax they are only checked and counted, not kept
// (items and objects are nil when n > itemsMax), so a body of many tiny
// elements, refused for their number, costs no memory for each.
func Batch(data []byte, itemsMax int) (items []json.RawMessage, objects []map[string]json.RawMessage, n int, ok bool) {
	s := scanner{data: data, ok: true}
	s.ws()
	if s.peek() != '[' {
		return nil, nil, 0, false
	}
	items = []json.RawMessage{}
	elem := func(depth int) []byte {
		n++
		if n > itemsMax {
			return s.value(depth)
		}
		if s.peek() != '{' {
			objects = append(objects, nil)
			return s.value(depth)
		}
		start := s.off
		members := make(map[string]json.RawMessage, 4)
		s.object(depth+1, func(name string, raw []byte) { members[name] = raw })
		objects = append(objects, members)
		return s.data[start:s.off]
	}
	s.arrayOf(1, elem, func(raw []byte) {
		if n <= itemsMax {
			items = append(items, raw)
		}
	})
	s.end()
	switch {
	case !s.ok:
		return nil, nil, 0, false
	case n > itemsMax:
		return nil, nil, n, true
	}
	return items, objects, n, true
}

// Len returns the number of elements of data, a JSON array that
// encoding/json accepts, in one pass and without allocating, so a caller
// can refuse an over-long array before decoding it. For data that is not
// such an array the count means nothing, but Len still returns.
func Len(data []byte) int {
	s := scanner{data: data, ok: true}
	s.ws()
	if s.peek() != '[' {
		return 0
	}
	s.off++
	s.ws()
	if s.peek() == ']' {
		return 0
	}
	n, depth := 1, 1
	for ; s.off < len(data); s.off++ {
		switch data[s.off] {
		case '"':
			s.off = closingQuote(data, s.off)
		case '[', '{':
			depth++
		case ']', '}':
			if depth--; depth == 0 {
				return n
			}
		case ',':
			if depth == 1 {
				n++
			}
		}
	}
	return n
}

// closingQuote returns the index of the quote that ends the string
// opening at data[open], skipping escaped characters, or len(data).
func closingQuote(data []byte, open int) int {
	for i := open + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(data)
}

// Members hands each member of data, one JSON object, to each in order
// (a repeated name comes twice; values share data's bytes), and reports
// whether it read the object; each may have been called when it did not.
func Members(data []byte, each func(name string, raw []byte)) bool {
	s := scanner{data: data, ok: true}
	s.ws()
	if s.peek() != '{' {
		return false
	}
	s.object(1, each)
	s.end()
	return s.ok
}

// Object reads data, one JSON object, into its members as json.Unmarshal
// into map[string]json.RawMessage would (a repeated name keeps its last
// value; values share data's bytes). ok is false when it declines.
func Object(data []byte) (members map[string]json.RawMessage, ok bool) {
	s := scanner{data: data, ok: true}
	s.ws()
	if s.peek() != '{' {
		return nil, false
	}
	members = make(map[string]json.RawMessage, 4)
	s.object(1, func(name string, raw []byte) { members[name] = raw })
	s.end()
	if !s.ok {
		return nil, false
	}
	return members, true
}

// Plain reports whether every byte of b is printable ASCII (0x20 to
// 0x7e) other than '"' and '\\': a string's contents that need no
// escaping or unescaping. It tests eight bytes at a time, since a tx's
// hex is most of every byte a node's RPC reads.
func Plain[T ~string | ~[]byte](b T) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// hasZero is nonzero iff some byte of v is zero; (x-n*ones)&^x&highs
	// iff some byte of x (all below 0x80) is below n.
	hasZero := func(v uint64) uint64 { return (v - ones) &^ v & highs }
	for ; len(b) >= 8; b = b[8:] {
		x := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		if x&highs != 0 ||
			(x-0x20*ones)&^x&highs != 0 ||
			hasZero(x^0x7f*ones)|hasZero(x^'"'*ones)|hasZero(x^'\\'*ones) != 0 {
			return false
		}
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
