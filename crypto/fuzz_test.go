package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/oasisprotocol/curve25519-voi/curve"
)

// FuzzDecryptKey feeds arbitrary bytes to the keystore decoder as a key
// file: it must never panic, must refuse whatever InspectKey refuses, and
// may only return a key that matches the file's recorded public key.
// Seeds are real files made with the light KDF parameters.
func FuzzDecryptKey(f *testing.F) {
	for i := range byte(3) {
		data, err := EncryptKey(keyNumber(i), testPassword, LightKDFParams(), rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, testPassword)
		f.Add(data, []byte("wrong"))
		f.Add(data[:len(data)/2], testPassword)
		f.Add(bytes.Replace(data, []byte(`"version": 1`), []byte(`"version": 2`), 1), testPassword)
		f.Add(bytes.Replace(data, []byte(`"memoryKiB": 64`), []byte(`"memoryKiB": 4294967295`), 1), testPassword)
		f.Add(bytes.Replace(data, []byte(`"time": 1`), []byte(`"time": 0`), 1), testPassword)
	}
	f.Add([]byte(""), []byte(""))
	f.Add([]byte("null"), []byte("x"))
	f.Add([]byte(`{"version":1}`), []byte("x"))
	f.Fuzz(func(t *testing.T, data, password []byte) {
		info, inspectErr := InspectKey(data)
		// Parameters inside the bounds can still cost seconds and
		// gigabytes; the fuzzer checks the decoder, not argon2's speed.
		if inspectErr == nil && (info.KDF.MemoryKiB > 1024 || info.KDF.Time > 4) {
			return
		}
		k, err := DecryptKey(data, password)
		if inspectErr != nil && err == nil {
			t.Fatalf("DecryptKey accepted a file InspectKey refuses: %v", inspectErr)
		}
		if err != nil {
			if !k.IsZero() {
				t.Fatal("a key returned with an error")
			}
			return
		}
		if k.Public() != info.PublicKey {
			t.Fatal("decrypted key differs from the recorded public key")
		}
	})
}

// FuzzParsePublicKey checks ParsePublicKey against an oracle built another
// way: a key is good iff it is 32 bytes, decodes to a curve point, re-
// encodes to the same bytes (canonical) and [8]P is not the identity.
func FuzzParsePublicKey(f *testing.F) {
	for _, s := range append(append([]string{}, smallOrderKeys...), nonCanonicalSmallOrderKeys...) {
		enc := mustHex32(s)
		f.Add(enc[:])
	}
	for i := range byte(4) {
		pub := keyNumber(i).Public()
		f.Add(pub[:])
	}
	for v := byte(2); v < 19; v++ {
		enc := encodeYPlusP(v)
		f.Add(enc[:])
	}
	f.Add([]byte{})
	f.Add(make([]byte, 33))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := ParsePublicKey(b)
		good := false
		if len(b) == PublicKeyBytes {
			var enc [32]byte
			copy(enc[:], b)
			if p, ok := decodePoint(enc); ok {
				var p8 curve.EdwardsPoint
				good = encodePoint(&p) == enc && !p8.MulByCofactor(&p).IsIdentity()
			}
		}
		if good != (err == nil) {
			t.Fatalf("ParsePublicKey(%x) err = %v, oracle says good = %v", b, err, good)
		}
		if err != nil {
			if pk != (PublicKey{}) {
				t.Fatal("rejected key returned non-zero")
			}
			for _, sentinel := range []error{ErrKeyLength, ErrKeyNotCanonical, ErrKeyNotOnCurve, ErrKeySmallOrder} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("error without a sentinel: %v", err)
		}
		if !bytes.Equal(pk[:], b) {
			t.Fatal("accepted key differs from input")
		}
		text, _ := pk.MarshalText()
		var back PublicKey
		if err := back.UnmarshalText(text); err != nil || back != pk {
			t.Fatalf("text round trip: %v", err)
		}
	})
}

// FuzzVerify checks single-vs-batch agreement on arbitrary keys,
// signatures, messages and chain ids: the entry alone, and the entry
// between two valid signatures (so the batch equation itself runs and
// fails, and the fallback has to find the culprit).
func FuzzVerify(f *testing.F) {
	for kind := range sigCaseKinds {
		c := makeSigCase(kind, byte(kind), kind*37, []byte("fuzz seed"), []byte{byte(kind)})
		f.Add(c.pk[:], c.sig[:], c.msg, c.chainID, byte(0))
	}
	f.Fuzz(func(t *testing.T, pkBytes, sigBytes, msg []byte, chainID string, domainSel byte) {
		var pk PublicKey
		var sig Signature
		copy(pk[:], pkBytes)
		copy(sig[:], sigBytes)
		domain := []Domain{DomainTx, DomainConsensus, DomainOM}[int(domainSel)%3]
		single := Verify(pk, domain, chainID, msg, sig) == nil

		bv := NewBatchVerifier(3)
		bv.Add(pk, domain, chainID, msg, sig)
		all, valid := bv.Verify()
		if len(valid) != 1 || valid[0] != single || all != single {
			t.Fatalf("alone: batch (%v, %v), Verify %v", all, valid, single)
		}

		k := keyNumber(domainSel)
		good := k.Sign(DomainTx, "fuzz", msg)
		bv.Add(k.Public(), DomainTx, "fuzz", msg, good)
		bv.Add(pk, domain, chainID, msg, sig)
		bv.Add(k.Public(), DomainTx, "fuzz", msg, good)
		all, valid = bv.Verify()
		if len(valid) != 3 || !valid[0] || !valid[2] || valid[1] != single || all != single {
			t.Fatalf("among valid: batch (%v, %v), Verify %v", all, valid, single)
		}
	})
}
