package crypto

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// HashBytes is the size of a Hash in bytes.
const HashBytes = sha256.Size

// Hash is a SHA-256 digest: of a transaction's encoding, a block header, a
// state leaf. The zero Hash means "none".
type Hash [HashBytes]byte

// Sum256 hashes data with SHA-256.
func Sum256(data []byte) Hash { return sha256.Sum256(data) }

// IsZero reports whether h is the zero hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// String returns the hash as 0x-prefixed lower-case hex.
func (h Hash) String() string { return "0x" + hex.EncodeToString(h[:]) }

// Short returns the first four bytes in hex, for logs.
func (h Hash) Short() string { return hex.EncodeToString(h[:4]) }

// MarshalText encodes the hash as 0x-prefixed hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes 0x-prefixed (or bare) hex of exactly HashBytes bytes.
func (h *Hash) UnmarshalText(text []byte) error {
	return decodeFixedHex(h[:], string(text), "hash")
}

// ParseHash decodes a hash from 0x-prefixed hex.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}

// ErrBadHex is returned for text that is not hex of the expected length.
var ErrBadHex = errors.New("crypto: bad hex")

func decodeFixedHex(dst []byte, s, what string) error {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%w: %s must be %d hex digits, got %d", ErrBadHex, what, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadHex, what, err)
	}
	return nil
}
