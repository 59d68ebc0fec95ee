package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/synod-chain/synod/crypto"
)

// ErrMalformed wraps every decoding failure, so callers can tell bad input
// from other errors with errors.Is.
var ErrMalformed = errors.New("ledger: malformed encoding")

// encoder appends the canonical encoding: fixed-width big-endian integers,
// fixed-size byte arrays as they are, and variable-length byte strings with
// a length prefix. There is exactly one encoding of each value.
type encoder struct{ buf []byte }

func (e *encoder) u8(v uint8)   { e.buf = append(e.buf, v) }
func (e *encoder) u16(v uint16) { e.buf = binary.BigEndian.AppendUint16(e.buf, v) }
func (e *encoder) u32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *encoder) raw(b []byte) { e.buf = append(e.buf, b...) }

// bytes8 writes a string of at most 255 bytes with a one-byte length.
func (e *encoder) bytes8(b []byte) {
	if len(b) > 0xff {
		panic(fmt.Sprintf("ledger: bytes8 of %d bytes", len(b)))
	}
	e.u8(uint8(len(b)))
	e.raw(b)
}

// bytes16 writes a string of at most 65535 bytes with a two-byte length.
func (e *encoder) bytes16(b []byte) {
	if len(b) > 0xffff {
		panic(fmt.Sprintf("ledger: bytes16 of %d bytes", len(b)))
	}
	e.u16(uint16(len(b)))
	e.raw(b)
}

// decoder reads the canonical encoding. The first failure sticks: later
// reads return zero values and err() reports the first cause, so decoding
// functions read straight through and check once.
type decoder struct {
	buf  []byte
	off  int
	fail error
}

func (d *decoder) setErr(format string, args ...any) {
	if d.fail == nil {
		d.fail = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) take(n int, what string) []byte { return d.takeLabeled(n, what, "") }

// takeLabeled is take for a field named what+suffix: the name is only
// joined for an error, so decoding a valid input concatenates nothing.
func (d *decoder) takeLabeled(n int, what, suffix string) []byte {
	if d.fail != nil {
		return nil
	}
	if n < 0 || len(d.buf)-d.off < n {
		d.setErr("%s%s: need %d bytes at offset %d, have %d", what, suffix, n, d.off, len(d.buf)-d.off)
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

func (d *decoder) u8(what string) uint8 {
	if b := d.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if b := d.take(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if b := d.take(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if b := d.take(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) fixed(dst []byte, what string) {
	if b := d.take(len(dst), what); b != nil {
		copy(dst, b)
	}
}

func (d *decoder) hash(what string) (h crypto.Hash) {
	d.fixed(h[:], what)
	return h
}

// bytes8 reads a one-byte-length string of at most max bytes (copied).
func (d *decoder) bytes8(max int, what string) []byte {
	return d.sized(d.len8(what), max, what)
}

// bytes16 reads a two-byte-length string of at most max bytes (copied).
func (d *decoder) bytes16(max int, what string) []byte {
	n := 0
	if b := d.takeLabeled(2, what, " length"); b != nil {
		n = int(binary.BigEndian.Uint16(b))
	}
	return d.sized(n, max, what)
}

// len8 reads the one-byte length of the field what.
func (d *decoder) len8(what string) int {
	if b := d.takeLabeled(1, what, " length"); b != nil {
		return int(b[0])
	}
	return 0
}

// string8 is bytes8 as a string. If the bytes equal same, it returns same
// and allocates nothing: every tx of a block carries the same chain id.
func (d *decoder) string8(max int, what, same string) string {
	n := d.len8(what)
	if d.fail != nil {
		return ""
	}
	if n > max {
		d.setErr("%s: %d bytes exceeds limit %d", what, n, max)
		return ""
	}
	b := d.take(n, what)
	if string(b) == same {
		return same
	}
	return string(b)
}

func (d *decoder) sized(n, max int, what string) []byte {
	if d.fail != nil {
		return nil
	}
	if n > max {
		d.setErr("%s: %d bytes exceeds limit %d", what, n, max)
		return nil
	}
	b := d.take(n, what)
	if n == 0 || b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// count reads a uint32 element count bounded by max.
func (d *decoder) count(max int, what string) int {
	n := d.u32(what + " count")
	if d.fail == nil && uint64(n) > uint64(max) {
		d.setErr("%s: count %d exceeds limit %d", what, n, max)
		return 0
	}
	return int(n)
}

// finish reports the first error, or trailing bytes (an encoding is
// canonical only if nothing follows it).
func (d *decoder) finish(what string) error {
	if d.fail == nil && d.off != len(d.buf) {
		d.setErr("%s: %d trailing bytes", what, len(d.buf)-d.off)
	}
	if d.fail != nil {
		return fmt.Errorf("decode %s: %w", what, d.fail)
	}
	return nil
}
