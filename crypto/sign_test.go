package crypto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// TestSignVerify checks the basic contract: a signature verifies for its
// own key, domain, chain and message, and for nothing else that differs in
// one of those.
func TestSignVerify(t *testing.T) {
	k, other := testKey(t, 1), testKey(t, 2)
	msg := []byte("transfer 10 to bob")
	sig := k.Sign(DomainTx, "synod-1", msg)
	if err := Verify(k.Public(), DomainTx, "synod-1", msg, sig); err != nil {
		t.Fatalf("valid signature: %v", err)
	}
	cases := []struct {
		name    string
		pk      PublicKey
		domain  Domain
		chainID string
		msg     []byte
	}{
		{"other key", other.Public(), DomainTx, "synod-1", msg},
		{"consensus domain", k.Public(), DomainConsensus, "synod-1", msg},
		{"om domain", k.Public(), DomainOM, "synod-1", msg},
		{"other chain", k.Public(), DomainTx, "synod-2", msg},
		{"empty chain", k.Public(), DomainTx, "", msg},
		{"other message", k.Public(), DomainTx, "synod-1", []byte("transfer 99 to bob")},
		{"empty message", k.Public(), DomainTx, "synod-1", nil},
	}
	for _, c := range cases {
		if err := Verify(c.pk, c.domain, c.chainID, c.msg, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", c.name, err)
		}
	}
}

// TestSigningPayloadInjective checks that moving bytes between the chain id
// and the message changes the payload, the property the length byte buys.
func TestSigningPayloadInjective(t *testing.T) {
	a := SigningPayload(DomainTx, "ab", []byte("c"))
	b := SigningPayload(DomainTx, "a", []byte("bc"))
	if bytes.Equal(a, b) {
		t.Fatal("chain id / message boundary is ambiguous")
	}
	k := testKey(t, 1)
	if Verify(k.Public(), DomainTx, "a", []byte("bc"), k.Sign(DomainTx, "ab", []byte("c"))) == nil {
		t.Fatal("signature moved across the chain id / message boundary")
	}
	want := "synod/tx/v1\x00\x02abc"
	if string(a) != want {
		t.Fatalf("payload %q, want %q", a, want)
	}
}

// TestFlippedBitFails checks every single-bit flip of a signature and of
// the message: none may verify.
func TestFlippedBitFails(t *testing.T) {
	k := testKey(t, 4)
	msg := []byte("commit h=7")
	sig := k.Sign(DomainConsensus, "c", msg)
	for i := range SignatureBytes * 8 {
		bad := sig
		bad[i/8] ^= 1 << (i % 8)
		if Verify(k.Public(), DomainConsensus, "c", msg, bad) == nil {
			t.Fatalf("signature bit %d flipped still verifies", i)
		}
	}
	for i := range len(msg) * 8 {
		bad := bytes.Clone(msg)
		bad[i/8] ^= 1 << (i % 8)
		if Verify(k.Public(), DomainConsensus, "c", bad, sig) == nil {
			t.Fatalf("message bit %d flipped still verifies", i)
		}
	}
}

// TestNonCanonicalSRejected checks malleability: S + L is the same scalar
// mod L, so without the S < L rule it would be a second valid signature.
func TestNonCanonicalSRejected(t *testing.T) {
	k := testKey(t, 5)
	msg := []byte("m")
	sig := k.Sign(DomainTx, "c", msg)
	mall := addL(sig)
	if mall == sig {
		t.Fatal("addL did nothing")
	}
	if err := Verify(k.Public(), DomainTx, "c", msg, mall); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("S+L: err = %v, want ErrBadSignature", err)
	}
	// S = all ones is far above L.
	for i := 32; i < 64; i++ {
		mall[i] = 0xff
	}
	if Verify(k.Public(), DomainTx, "c", msg, mall) == nil {
		t.Fatal("S = 2^256-1 accepted")
	}
}

// TestNonCanonicalRRejected checks that R must be spelled canonically: a
// signature with R = identity verifies when R is written 01 00…00 and
// fails when the same point is written any other way.
func TestNonCanonicalRRejected(t *testing.T) {
	k := testKey(t, 6)
	hs := newHandSigner(k)
	msg := []byte("m")
	payload := SigningPayload(DomainTx, "c", msg)

	canonical := hs.signSmallOrderR(payload, mustHex32(smallOrderKeys[0]))
	if err := Verify(k.Public(), DomainTx, "c", msg, canonical); err != nil {
		t.Fatalf("canonical small-order R: %v (the rule allows small-order R)", err)
	}
	for _, s := range nonCanonicalSmallOrderKeys {
		sig := hs.signSmallOrderR(payload, mustHex32(s))
		if err := Verify(k.Public(), DomainTx, "c", msg, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("R = %s: err = %v, want ErrBadSignature", s, err)
		}
	}
}

// TestCofactoredEquation checks that Verify uses the cofactored equation:
// a signature whose R carries a torsion component verifies for us, while
// crypto/ed25519 (cofactorless) refuses it. Batch verification is always
// cofactored, so this is what keeps the two paths in agreement.
func TestCofactoredEquation(t *testing.T) {
	k := testKey(t, 7)
	hs := newHandSigner(k)
	msg := []byte("m")
	payload := SigningPayload(DomainTx, "c", msg)
	for i, tor := range smallOrderKeys[1:] {
		sig := hs.signTorsionR(payload, byte(i), mustHex32(tor))
		if err := Verify(k.Public(), DomainTx, "c", msg, sig); err != nil {
			t.Errorf("torsion %s: %v", tor, err)
		}
		pub := k.Public()
		if ed25519.Verify(pub[:], payload, sig[:]) {
			t.Errorf("torsion %s: crypto/ed25519 accepted; the case does not exercise the cofactor", tor)
		}
	}
}

// TestSmallOrderKeySignature documents why ValidatePublicKey exists:
// crypto/ed25519 accepts one signature under the identity key for any
// message at all, and Verify refuses it.
func TestSmallOrderKeySignature(t *testing.T) {
	sig := identityKeySignature()
	pk := PublicKey(mustHex32(smallOrderKeys[0]))
	for _, msg := range []string{"pay alice", "pay mallory"} {
		payload := SigningPayload(DomainTx, "c", []byte(msg))
		if !ed25519.Verify(pk[:], payload, sig[:]) {
			t.Fatalf("%s: crypto/ed25519 refused; the test no longer shows the hazard", msg)
		}
		if err := Verify(pk, DomainTx, "c", []byte(msg), sig); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s: err = %v, want ErrBadSignature", msg, err)
		}
	}
}

// TestChainIDLimit checks that an oversized chain id from a peer is an
// error from Verify (not a panic), and that Sign still treats one as a
// programmer error.
func TestChainIDLimit(t *testing.T) {
	k := testKey(t, 1)
	long := strings.Repeat("x", ChainIDBytesMax+1)
	if err := ValidateChainID(long); !errors.Is(err, ErrChainIDTooLong) {
		t.Fatalf("ValidateChainID: %v", err)
	}
	if err := ValidateChainID(long[1:]); err != nil {
		t.Fatalf("ValidateChainID at the limit: %v", err)
	}
	if err := Verify(k.Public(), DomainTx, long, nil, Signature{}); !errors.Is(err, ErrChainIDTooLong) {
		t.Fatalf("Verify: err = %v, want ErrChainIDTooLong", err)
	}
	max := long[1:]
	if err := Verify(k.Public(), DomainTx, max, nil, k.Sign(DomainTx, max, nil)); err != nil {
		t.Fatalf("chain id at the limit: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Sign with an oversized chain id did not panic")
		}
	}()
	k.Sign(DomainTx, long, nil)
}
