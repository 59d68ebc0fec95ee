package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/oasisprotocol/curve25519-voi/curve"
)

// Sizes of keys, signatures and addresses in bytes.
const (
	PublicKeyBytes = ed25519.PublicKeySize
	SeedBytes      = ed25519.SeedSize
	SignatureBytes = ed25519.SignatureSize
	AddressBytes   = 20
)

// Errors for keys that must never sign for an account or a validator.
var (
	ErrKeyNotCanonical = errors.New("crypto: public key is not a canonical point encoding")
	ErrKeySmallOrder   = errors.New("crypto: public key is a small-order point")
	ErrKeyNotOnCurve   = errors.New("crypto: public key is not a point on the curve")
	ErrKeyLength       = errors.New("crypto: public key has the wrong length")
)

// PublicKey is an ed25519 public key. A PublicKey obtained from
// ParsePublicKey or PrivateKey.Public has been checked with
// ValidatePublicKey; one built by hand from bytes has not.
type PublicKey [PublicKeyBytes]byte

// ParsePublicKey checks b and returns it as a PublicKey. On error the
// returned key is the zero PublicKey, never the rejected bytes.
func ParsePublicKey(b []byte) (PublicKey, error) {
	var pk PublicKey
	if len(b) != PublicKeyBytes {
		return PublicKey{}, fmt.Errorf("%w: %d bytes, want %d", ErrKeyLength, len(b), PublicKeyBytes)
	}
	copy(pk[:], b)
	if err := ValidatePublicKey(pk); err != nil {
		return PublicKey{}, err
	}
	return pk, nil
}

// ValidatePublicKey refuses keys that std ed25519.Verify would accept but
// that break the signature's binding to one signer: non-canonical encodings
// (two byte strings, one key) and small-order points (a key for which one
// signature verifies for many messages).
func ValidatePublicKey(pk PublicKey) error {
	var compressed curve.CompressedEdwardsY
	if _, err := compressed.SetBytes(pk[:]); err != nil {
		return ErrKeyNotOnCurve
	}
	if !compressed.IsCanonicalVartime() {
		return ErrKeyNotCanonical
	}
	var point curve.EdwardsPoint
	if _, err := point.SetCompressedY(&compressed); err != nil {
		return ErrKeyNotOnCurve
	}
	if point.IsSmallOrder() {
		return ErrKeySmallOrder
	}
	return nil
}

// Address returns the account address of this key.
func (pk PublicKey) Address() Address { return AddressOf(pk) }

// String returns the key as 0x-prefixed hex.
func (pk PublicKey) String() string { return "0x" + hex.EncodeToString(pk[:]) }

// MarshalText encodes the key as 0x-prefixed hex.
func (pk PublicKey) MarshalText() ([]byte, error) { return []byte(pk.String()), nil }

// UnmarshalText decodes 0x-prefixed hex and validates the key.
func (pk *PublicKey) UnmarshalText(text []byte) error {
	var raw PublicKey
	if err := decodeFixedHex(raw[:], string(text), "public key"); err != nil {
		return err
	}
	if err := ValidatePublicKey(raw); err != nil {
		return err
	}
	*pk = raw
	return nil
}

// PrivateKey is an ed25519 signing key. Its zero value is not usable.
type PrivateKey struct {
	key ed25519.PrivateKey
	pub PublicKey
}

// GenerateKey makes a new key pair from rand (crypto/rand.Reader in
// production; a seeded reader in tests that must replay).
func GenerateKey(rand io.Reader) (PrivateKey, error) {
	var seed [SeedBytes]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: generate key: %w", err)
	}
	return PrivateKeyFromSeed(seed[:])
}

// PrivateKeyFromSeed derives the key pair of a 32-byte RFC 8032 seed.
func PrivateKeyFromSeed(seed []byte) (PrivateKey, error) {
	if len(seed) != SeedBytes {
		return PrivateKey{}, fmt.Errorf("crypto: seed is %d bytes, want %d", len(seed), SeedBytes)
	}
	key := ed25519.NewKeyFromSeed(seed)
	var pub PublicKey
	copy(pub[:], key[SeedBytes:])
	// A key derived from a seed is a multiple of the base point, so it is
	// canonical and of prime order; check anyway, as TigerStyle asks.
	if err := ValidatePublicKey(pub); err != nil {
		panic(fmt.Sprintf("crypto: seed derived an invalid public key: %v", err))
	}
	return PrivateKey{key: key, pub: pub}, nil
}

// Public returns the public half of the key.
func (k PrivateKey) Public() PublicKey { return k.pub }

// Seed returns a copy of the 32-byte seed, the secret to store.
func (k PrivateKey) Seed() []byte { return append([]byte(nil), k.key.Seed()...) }

// IsZero reports whether k is the zero value.
func (k PrivateKey) IsZero() bool { return k.key == nil }

// Address is an account address: the last 20 bytes of SHA-256 over a domain
// tag and the public key.
type Address [AddressBytes]byte

// AddressOf derives the address of pk.
func AddressOf(pk PublicKey) Address {
	h := sha256.New()
	h.Write([]byte("synod/address/v1"))
	h.Write(pk[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var a Address
	copy(a[:], sum[sha256.Size-AddressBytes:])
	return a
}

// ParseAddress decodes 0x-prefixed hex.
func ParseAddress(s string) (Address, error) {
	var a Address
	err := a.UnmarshalText([]byte(s))
	return a, err
}

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a == Address{} }

// String returns the address as 0x-prefixed hex.
func (a Address) String() string { return "0x" + hex.EncodeToString(a[:]) }

// MarshalText encodes the address as 0x-prefixed hex.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText decodes 0x-prefixed hex of exactly AddressBytes bytes.
func (a *Address) UnmarshalText(text []byte) error {
	return decodeFixedHex(a[:], string(text), "address")
}
