package crypto

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
)

// This file builds the edge cases the verification rule is about: encodings
// of small-order points, non-canonical encodings, and signatures made "by
// hand" from the secret scalar with chosen R values. None of it is used
// outside tests.

// smallOrderKeys are the canonical encodings of the eight points of order
// dividing 8 (the torsion subgroup).
var smallOrderKeys = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity, order 1
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // (0, -1), order 2
	"0000000000000000000000000000000000000000000000000000000000000000", // y = 0, order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // y = 0, -x, order 4
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
}

// nonCanonicalSmallOrderKeys encode small-order points non-canonically:
// y = p and y = p+1 (that is, 0 and 1 again), and x = 0 with the sign bit
// set, which RFC 8032 forbids.
var nonCanonicalSmallOrderKeys = []string{
	"0100000000000000000000000000000000000000000000000000000000000080", // y = 1, sign set
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p-1, sign set
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p, sign set
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+1
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p+1, sign set
}

// groupOrderL is L = 2^252 + 27742317777372353535851937790883648493, little endian.
var groupOrderL = mustHex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")

func mustHex32(s string) [32]byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		panic(fmt.Sprintf("bad test constant %q", s))
	}
	var out [32]byte
	copy(out[:], b)
	return out
}

// encodeY returns the little-endian 32-byte encoding of p + v, a
// non-canonical spelling of the field element v (v < 19).
func encodeYPlusP(v byte) [32]byte {
	enc := mustHex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	enc[0] += v
	return enc
}

// decodePoint decompresses enc, reporting whether it lies on the curve.
func decodePoint(enc [32]byte) (curve.EdwardsPoint, bool) {
	var c curve.CompressedEdwardsY
	var p curve.EdwardsPoint
	if _, err := c.SetBytes(enc[:]); err != nil {
		return p, false
	}
	if _, err := p.SetCompressedY(&c); err != nil {
		return p, false
	}
	return p, true
}

func encodePoint(p *curve.EdwardsPoint) [32]byte {
	var c curve.CompressedEdwardsY
	c.SetEdwardsPoint(p)
	return c
}

// handSigner signs with an explicit secret scalar so tests can choose R.
type handSigner struct {
	a   scalar.Scalar // the secret scalar, A = [a]B
	pub [32]byte      // the public key bytes written into the hash
}

func newHandSigner(k PrivateKey) handSigner {
	digest := sha512.Sum512(k.Seed())
	digest[0] &= 248
	digest[31] &= 127
	digest[31] |= 64
	var s handSigner
	if _, err := s.a.SetBytesModOrder(digest[:32]); err != nil {
		panic(err)
	}
	pub := k.Public()
	s.pub = pub
	return s
}

// sign returns (R, S) with S = r + H(R || A || payload)·a, where rEnc is
// any 32-byte string the caller chose for R and r its discrete log to the
// base B (modulo torsion). The signature satisfies the cofactored
// equation exactly when rEnc decodes to [r]B plus a small-order point.
func (s handSigner) sign(payload []byte, rEnc [32]byte, r *scalar.Scalar) Signature {
	h := sha512.New()
	h.Write(rEnc[:])
	h.Write(s.pub[:])
	h.Write(payload)
	var k scalar.Scalar
	if _, err := k.SetBytesModOrderWide(h.Sum(nil)); err != nil {
		panic(err)
	}
	var S scalar.Scalar
	S.Mul(&k, &s.a)
	S.Add(&S, r)
	var sig Signature
	copy(sig[:32], rEnc[:])
	if err := S.ToBytes(sig[32:]); err != nil {
		panic(err)
	}
	return sig
}

// signTorsionR signs with R = [r]B + T for the small-order point T: valid
// under the cofactored equation, invalid under the cofactorless one.
func (s handSigner) signTorsionR(payload []byte, rSeed byte, torsion [32]byte) Signature {
	var rBytes [64]byte
	rBytes[0] = rSeed
	rBytes[1] = 0x5a
	var r scalar.Scalar
	if _, err := r.SetBytesModOrderWide(rBytes[:]); err != nil {
		panic(err)
	}
	var R curve.EdwardsPoint
	R.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, &r)
	T, ok := decodePoint(torsion)
	if !ok {
		panic("torsion point not on curve")
	}
	R.Add(&R, &T)
	return s.sign(payload, encodePoint(&R), &r)
}

// signSmallOrderR signs with R a small-order point spelled as rEnc (r = 0):
// S = H(R || A || payload)·a.
func (s handSigner) signSmallOrderR(payload []byte, rEnc [32]byte) Signature {
	var zero scalar.Scalar
	return s.sign(payload, rEnc, &zero)
}

// identityKeySignature is a signature under the identity public key that
// verifies for every message under the cofactorless (std) rule: R = [r]B,
// S = r, and [S]B - [k]·identity = R whatever k is.
func identityKeySignature() Signature {
	var r scalar.Scalar
	r.SetUint64(0x1234567)
	var R curve.EdwardsPoint
	R.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, &r)
	enc := encodePoint(&R)
	var sig Signature
	copy(sig[:32], enc[:])
	if err := r.ToBytes(sig[32:]); err != nil {
		panic(err)
	}
	return sig
}

// addL returns sig with L added to S: the same scalar mod L, a second
// spelling of one signature.
func addL(sig Signature) Signature {
	var carry uint16
	for i := 32; i < 64; i++ {
		sum := uint16(sig[i]) + uint16(groupOrderL[i-32]) + carry
		sig[i] = byte(sum)
		carry = sum >> 8
	}
	return sig
}

// testKey returns a deterministic key pair number i.
func testKey(tb testing.TB, i byte) PrivateKey {
	tb.Helper()
	return keyNumber(i)
}

// keyNumber is testKey for callers without a testing.TB (rapid, fuzz).
func keyNumber(i byte) PrivateKey {
	var seed [SeedBytes]byte
	for j := range seed {
		seed[j] = i ^ byte(j*7+1)
	}
	k, err := PrivateKeyFromSeed(seed[:])
	if err != nil {
		panic(err)
	}
	return k
}

// TestForgeHelpersAreSound checks the test constants themselves, so a typo
// there cannot make the other tests pass vacuously: every smallOrderKeys
// entry decodes canonically and has order dividing 8, every
// nonCanonicalSmallOrderKeys entry decodes to one of them, and a
// hand-made signature with an ordinary R matches crypto/ed25519's.
func TestForgeHelpersAreSound(t *testing.T) {
	canon := map[[32]byte]bool{}
	for _, s := range smallOrderKeys {
		enc := mustHex32(s)
		p, ok := decodePoint(enc)
		if !ok {
			t.Fatalf("%s not on curve", s)
		}
		var p8 curve.EdwardsPoint
		if !p8.MulByCofactor(&p).IsIdentity() {
			t.Fatalf("%s: [8]P is not the identity", s)
		}
		if encodePoint(&p) != enc {
			t.Fatalf("%s is not canonical", s)
		}
		canon[enc] = true
	}
	if len(canon) != 8 {
		t.Fatalf("%d distinct small-order points, want 8", len(canon))
	}
	for _, s := range nonCanonicalSmallOrderKeys {
		enc := mustHex32(s)
		p, ok := decodePoint(enc)
		if !ok {
			t.Fatalf("%s not on curve", s)
		}
		re := encodePoint(&p)
		if re == enc || !canon[re] {
			t.Fatalf("%s re-encodes as %x, want a different small-order encoding", s, re)
		}
	}
	k := testKey(t, 1)
	payload := SigningPayload(DomainTx, "test", []byte("hello"))
	want := k.Sign(DomainTx, "test", []byte("hello"))
	// RFC 8032's nonce is r = H(prefix || M); recompute it to check sign().
	digest := sha512.Sum512(k.Seed())
	h := sha512.New()
	h.Write(digest[32:])
	h.Write(payload)
	var r scalar.Scalar
	if _, err := r.SetBytesModOrderWide(h.Sum(nil)); err != nil {
		t.Fatal(err)
	}
	var R curve.EdwardsPoint
	R.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, &r)
	if got := newHandSigner(k).sign(payload, encodePoint(&R), &r); got != want {
		t.Fatalf("hand signature %x, want %x", got, want)
	}
}
