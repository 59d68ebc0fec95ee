package crypto

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Domain tags. Every signed payload starts with one, then the chain id, so a
// signature made for one purpose or one chain is never valid for another.
const (
	DomainTx        Domain = "synod/tx/v1"
	DomainConsensus Domain = "synod/consensus/v1"
	DomainOM        Domain = "synod/om/v1"
)

// ChainIDBytesMax bounds a chain id; it is a short human-readable name.
const ChainIDBytesMax = 64

// Domain names what a signature is for.
type Domain string

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("crypto: invalid signature")

// ErrChainIDTooLong is returned for a chain id longer than ChainIDBytesMax.
var ErrChainIDTooLong = errors.New("crypto: chain id too long")

// ValidateChainID reports whether chainID fits in a signing payload. Check
// a configured chain id with it once at startup: Sign and SigningPayload
// treat an oversized one as a programmer error and panic, while Verify and
// BatchVerifier reject it as bad input.
func ValidateChainID(chainID string) error {
	if len(chainID) > ChainIDBytesMax {
		return fmt.Errorf("%w: %d bytes, max %d", ErrChainIDTooLong, len(chainID), ChainIDBytesMax)
	}
	return nil
}

// Signature is an ed25519 signature.
type Signature [SignatureBytes]byte

// String returns the signature as 0x-prefixed hex.
func (s Signature) String() string { return "0x" + hex.EncodeToString(s[:]) }

// MarshalText encodes the signature as 0x-prefixed hex.
func (s Signature) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes 0x-prefixed hex of exactly SignatureBytes bytes.
func (s *Signature) UnmarshalText(text []byte) error {
	return decodeFixedHex(s[:], string(text), "signature")
}

// SigningPayload is the exact byte string that is signed:
// domain || 0x00 || len(chainID) || chainID || message.
// The zero byte ends the domain tag and the length byte ends the chain id,
// so no two (domain, chain, message) triples share a payload.
func SigningPayload(domain Domain, chainID string, message []byte) []byte {
	if len(chainID) > ChainIDBytesMax {
		panic(fmt.Sprintf("crypto: chain id of %d bytes exceeds %d", len(chainID), ChainIDBytesMax))
	}
	p := make([]byte, 0, len(domain)+2+len(chainID)+len(message))
	p = append(p, domain...)
	p = append(p, 0, byte(len(chainID)))
	p = append(p, chainID...)
	return append(p, message...)
}

// Sign signs message for domain on chain chainID.
func (k PrivateKey) Sign(domain Domain, chainID string, message []byte) Signature {
	if k.key == nil {
		panic("crypto: Sign with a zero PrivateKey")
	}
	var sig Signature
	copy(sig[:], ed25519.Sign(k.key, SigningPayload(domain, chainID, message)))
	return sig
}

// verifyOptions is Synod's one verification rule (see the package doc). The
// batch verifier applies the same checks and the same cofactored equation,
// so Verify and BatchVerifier agree on every input.
var verifyOptions = &voi.Options{Verify: &voi.VerifyOptions{
	AllowSmallOrderA:   false,
	AllowNonCanonicalA: false,
	AllowSmallOrderR:   true,
	AllowNonCanonicalR: false,
	CofactorlessVerify: false,
}}

// Verify checks sig over message for domain on chain chainID. A chain id
// longer than ChainIDBytesMax is refused with an error, not a panic: it may
// come from a peer's message.
func Verify(pk PublicKey, domain Domain, chainID string, message []byte, sig Signature) error {
	if err := ValidateChainID(chainID); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	// The expanded key of a validator or a busy sender is cached: checking
	// against it skips the key's decompression (BenchmarkVerify).
	q := queuedSig{expanded: expandedKeys.get(pk), pk: pk, payload: SigningPayload(domain, chainID, message), sig: sig}
	if !q.verify() {
		return ErrBadSignature
	}
	return nil
}
