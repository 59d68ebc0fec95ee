package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestSeedRoundTrip checks that a key rebuilt from its seed is the same key,
// by generating keys from a fixed reader and comparing public halves,
// seeds and signatures.
func TestSeedRoundTrip(t *testing.T) {
	for i := range byte(8) {
		k := testKey(t, i)
		k2, err := PrivateKeyFromSeed(k.Seed())
		if err != nil {
			t.Fatal(err)
		}
		if k2.Public() != k.Public() || !bytes.Equal(k2.Seed(), k.Seed()) {
			t.Fatalf("key %d: seed round trip changed the key", i)
		}
		if k.Sign(DomainTx, "c", []byte("m")) != k2.Sign(DomainTx, "c", []byte("m")) {
			t.Fatalf("key %d: signatures differ after round trip", i)
		}
		// The public key must be RFC 8032's, so other wallets agree.
		std := ed25519.NewKeyFromSeed(k.Seed())
		if pub := k.Public(); !bytes.Equal(pub[:], std[SeedBytes:]) {
			t.Fatalf("key %d: public key differs from crypto/ed25519", i)
		}
	}
}

// TestSeedIsACopy checks that mutating the returned seed does not change
// the key, by zeroing it and signing again.
func TestSeedIsACopy(t *testing.T) {
	k := testKey(t, 3)
	before := k.Sign(DomainTx, "c", []byte("m"))
	clear(k.Seed())
	if k.Sign(DomainTx, "c", []byte("m")) != before {
		t.Fatal("clearing Seed()'s result changed the key")
	}
}

// TestGenerateKey checks key generation from a reader: the bytes read are
// the seed, and a short reader is an error, not a weak key.
func TestGenerateKey(t *testing.T) {
	seed := bytes.Repeat([]byte{0x42}, SeedBytes)
	k, err := GenerateKey(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.Seed(), seed) {
		t.Fatal("GenerateKey did not use the reader's bytes as the seed")
	}
	if _, err := GenerateKey(bytes.NewReader(seed[:10])); err == nil {
		t.Fatal("GenerateKey accepted a short reader")
	}
	if _, err := PrivateKeyFromSeed(seed[:31]); err == nil {
		t.Fatal("PrivateKeyFromSeed accepted a 31-byte seed")
	}
	if !(PrivateKey{}).IsZero() || k.IsZero() {
		t.Fatal("IsZero wrong")
	}
}

// TestAddressDeterministicAndDistinct checks that an address depends only
// on the key and that distinct keys get distinct addresses, over 256 keys.
func TestAddressDeterministicAndDistinct(t *testing.T) {
	seen := map[Address]byte{}
	for i := range 256 {
		pub := testKey(t, byte(i)).Public()
		a := pub.Address()
		if a != AddressOf(pub) || a != testKey(t, byte(i)).Public().Address() {
			t.Fatalf("key %d: address not deterministic", i)
		}
		if a.IsZero() {
			t.Fatalf("key %d: zero address", i)
		}
		if j, dup := seen[a]; dup {
			t.Fatalf("keys %d and %d share address %s", j, i, a)
		}
		seen[a] = byte(i)
	}
}

// TestParsePublicKeySmallOrder checks that every encoding of a small-order
// point is refused: the eight canonical ones with ErrKeySmallOrder, the
// non-canonical spellings with ErrKeyNotCanonical.
func TestParsePublicKeySmallOrder(t *testing.T) {
	for _, s := range smallOrderKeys {
		b, _ := hex.DecodeString(s)
		pk, err := ParsePublicKey(b)
		if !errors.Is(err, ErrKeySmallOrder) {
			t.Errorf("%s: err = %v, want ErrKeySmallOrder", s, err)
		}
		if pk != (PublicKey{}) {
			t.Errorf("%s: rejected key returned non-zero", s)
		}
	}
	for _, s := range nonCanonicalSmallOrderKeys {
		b, _ := hex.DecodeString(s)
		if _, err := ParsePublicKey(b); !errors.Is(err, ErrKeyNotCanonical) {
			t.Errorf("%s: err = %v, want ErrKeyNotCanonical", s, err)
		}
	}
}

// TestParsePublicKeyNonCanonicalLargeOrder checks that y >= p is refused
// for points of large order too, by trying y = p+v for every v < 19 that
// lies on the curve.
func TestParsePublicKeyNonCanonicalLargeOrder(t *testing.T) {
	tried := 0
	for v := byte(2); v < 19; v++ {
		enc := encodeYPlusP(v)
		p, ok := decodePoint(enc)
		if !ok || p.IsSmallOrder() {
			continue
		}
		tried++
		if _, err := ParsePublicKey(enc[:]); !errors.Is(err, ErrKeyNotCanonical) {
			t.Errorf("y = p+%d: err = %v, want ErrKeyNotCanonical", v, err)
		}
		// The same point spelled canonically is an ordinary key.
		canon := encodePoint(&p)
		if _, err := ParsePublicKey(canon[:]); err != nil {
			t.Errorf("y = %d canonical: %v", v, err)
		}
	}
	if tried == 0 {
		t.Fatal("no y = p+v on the curve; test is vacuous")
	}
}

// TestParsePublicKeyNotOnCurve checks that a y with no matching x is
// refused with ErrKeyNotOnCurve, by searching small y values for one.
func TestParsePublicKeyNotOnCurve(t *testing.T) {
	found := 0
	for y := byte(2); y < 40; y++ {
		var enc [32]byte
		enc[0] = y
		if _, ok := decodePoint(enc); ok {
			continue
		}
		found++
		if _, err := ParsePublicKey(enc[:]); !errors.Is(err, ErrKeyNotOnCurve) {
			t.Errorf("y = %d: err = %v, want ErrKeyNotOnCurve", y, err)
		}
	}
	if found == 0 {
		t.Fatal("no off-curve y found; test is vacuous")
	}
}

// TestParsePublicKeyLength checks that every length but 32 is refused with
// ErrKeyLength.
func TestParsePublicKeyLength(t *testing.T) {
	good := testKey(t, 1).Public()
	for _, n := range []int{0, 1, 31, 33, 64} {
		b := make([]byte, n)
		copy(b, good[:])
		if _, err := ParsePublicKey(b); !errors.Is(err, ErrKeyLength) {
			t.Errorf("%d bytes: err = %v, want ErrKeyLength", n, err)
		}
	}
	if pk, err := ParsePublicKey(good[:]); err != nil || pk != good {
		t.Fatalf("valid key: %v", err)
	}
}

// TestTextRoundTrips checks that keys, addresses, hashes and signatures
// survive MarshalText/UnmarshalText and JSON, and parse with or without 0x.
func TestTextRoundTrips(t *testing.T) {
	k := testKey(t, 9)
	pub := k.Public()
	sig := k.Sign(DomainTx, "c", []byte("m"))
	h := Sum256([]byte("x"))
	v := struct {
		P PublicKey
		A Address
		H Hash
		S Signature
	}{pub, pub.Address(), h, sig}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back = v
	back.P, back.A, back.H, back.S = PublicKey{}, Address{}, Hash{}, Signature{}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back != v {
		t.Fatalf("JSON round trip: got %+v want %+v", back, v)
	}
	if !strings.HasPrefix(pub.String(), "0x") || len(pub.String()) != 2+2*PublicKeyBytes {
		t.Fatalf("PublicKey.String = %q", pub.String())
	}
	a, err := ParseAddress(strings.TrimPrefix(pub.Address().String(), "0x"))
	if err != nil || a != pub.Address() {
		t.Fatalf("bare hex address: %v", err)
	}
	a, err = ParseAddress(strings.ToUpper(pub.Address().String()[2:]))
	if err != nil || a != pub.Address() {
		t.Fatalf("upper-case address: %v", err)
	}
	hh, err := ParseHash(h.String())
	if err != nil || hh != h {
		t.Fatalf("ParseHash: %v", err)
	}
}

// TestBadHex checks that malformed text is ErrBadHex for every type and
// that PublicKey.UnmarshalText also refuses well-formed hex of a bad key.
func TestBadHex(t *testing.T) {
	bad := []string{"", "0x", "0x12", "zz", "0x" + strings.Repeat("g", 64), "0x" + strings.Repeat("0", 63)}
	for _, s := range bad {
		var pk PublicKey
		if err := pk.UnmarshalText([]byte(s)); !errors.Is(err, ErrBadHex) {
			t.Errorf("PublicKey %q: err = %v", s, err)
		}
		if _, err := ParseAddress(s); !errors.Is(err, ErrBadHex) {
			t.Errorf("Address %q: err = %v", s, err)
		}
		if _, err := ParseHash(s); !errors.Is(err, ErrBadHex) {
			t.Errorf("Hash %q: err = %v", s, err)
		}
		var sig Signature
		if err := sig.UnmarshalText([]byte(s)); !errors.Is(err, ErrBadHex) {
			t.Errorf("Signature %q: err = %v", s, err)
		}
	}
	var pk PublicKey
	if err := pk.UnmarshalText([]byte("0x" + smallOrderKeys[0])); !errors.Is(err, ErrKeySmallOrder) {
		t.Fatalf("identity key via UnmarshalText: err = %v", err)
	}
	if pk != (PublicKey{}) {
		t.Fatal("UnmarshalText wrote a rejected key")
	}
}
