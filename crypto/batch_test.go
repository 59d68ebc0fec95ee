package crypto

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// sigCase is one (key, domain, chain, message, signature) entry and the
// verdict Synod's verification rule must give it.
type sigCase struct {
	kind    string
	pk      PublicKey
	domain  Domain
	chainID string
	msg     []byte
	sig     Signature
	want    bool
}

// sigCaseKinds names the entries makeSigCase builds, in kind order.
var sigCaseKinds = []string{
	"valid", "torsion R", "small-order R", "non-canonical R", "flipped sig bit",
	"flipped msg bit", "S+L", "small-order key", "non-canonical key",
	"wrong domain", "wrong chain", "random bytes", "oversized chain id",
}

// makeSigCase builds an entry of the given kind. key picks the signer,
// variant picks among the kind's sub-cases (torsion point, bit, …), and
// noise fills random-bytes entries.
func makeSigCase(kind int, key byte, variant int, msg []byte, noise []byte) sigCase {
	k := keyNumber(key)
	const chain = "synod-test"
	c := sigCase{kind: sigCaseKinds[kind], pk: k.Public(), domain: DomainTx, chainID: chain, msg: msg}
	payload := SigningPayload(DomainTx, chain, msg)
	hs := newHandSigner(k)
	switch c.kind {
	case "valid":
		c.sig, c.want = k.Sign(DomainTx, chain, msg), true
	case "torsion R":
		tor := smallOrderKeys[1+variant%(len(smallOrderKeys)-1)]
		c.sig, c.want = hs.signTorsionR(payload, byte(variant), mustHex32(tor)), true
	case "small-order R":
		c.sig, c.want = hs.signSmallOrderR(payload, mustHex32(smallOrderKeys[variant%len(smallOrderKeys)])), true
	case "non-canonical R":
		enc := nonCanonicalSmallOrderKeys[variant%len(nonCanonicalSmallOrderKeys)]
		c.sig = hs.signSmallOrderR(payload, mustHex32(enc))
	case "flipped sig bit":
		c.sig = k.Sign(DomainTx, chain, msg)
		bit := variant % (SignatureBytes * 8)
		c.sig[bit/8] ^= 1 << (bit % 8)
	case "flipped msg bit":
		c.sig = k.Sign(DomainTx, chain, msg)
		if len(msg) == 0 {
			c.msg = []byte{0} // one byte more is the flip of an empty message
			break
		}
		c.msg = bytes.Clone(msg)
		bit := variant % (len(msg) * 8)
		c.msg[bit/8] ^= 1 << (bit % 8)
	case "S+L":
		c.sig = addL(k.Sign(DomainTx, chain, msg))
	case "small-order key":
		c.pk = PublicKey(mustHex32(smallOrderKeys[variant%len(smallOrderKeys)]))
		c.sig = identityKeySignature()
	case "non-canonical key":
		c.pk = PublicKey(mustHex32(nonCanonicalSmallOrderKeys[variant%len(nonCanonicalSmallOrderKeys)]))
		c.sig = identityKeySignature()
	case "wrong domain":
		c.sig = k.Sign(DomainConsensus, chain, msg)
	case "wrong chain":
		c.sig = k.Sign(DomainTx, chain+"x", msg)
	case "random bytes":
		buf := make([]byte, PublicKeyBytes+SignatureBytes)
		copy(buf, noise)
		copy(c.pk[:], buf)
		copy(c.sig[:], buf[PublicKeyBytes:])
	case "oversized chain id":
		c.sig = k.Sign(DomainTx, chain, msg)
		c.chainID = strings.Repeat("z", ChainIDBytesMax+1+variant%8)
	default:
		panic(fmt.Sprintf("unknown kind %d", kind))
	}
	return c
}

// checkBatchAgreement runs cases through Verify and one BatchVerifier and
// returns a description of the first disagreement, or of the first
// verdict that differs from the case's expected one. It runs them twice:
// the second time every valid key comes from the expanded-key cache.
func checkBatchAgreement(cases []sigCase, capacity int) string {
	for _, pass := range []string{"first pass", "cached keys"} {
		if d := checkBatchAgreementOnce(cases, capacity); d != "" {
			return pass + ": " + d
		}
	}
	return ""
}

func checkBatchAgreementOnce(cases []sigCase, capacity int) string {
	bv := NewBatchVerifier(capacity)
	for _, c := range cases {
		bv.Add(c.pk, c.domain, c.chainID, c.msg, c.sig)
	}
	if bv.Len() != len(cases) {
		return fmt.Sprintf("Len = %d, want %d", bv.Len(), len(cases))
	}
	all, valid := bv.Verify()
	if bv.Len() != 0 {
		return "batch not emptied by Verify"
	}
	if len(cases) == 0 {
		if !all || valid != nil {
			return fmt.Sprintf("empty batch: (%v, %v), want (true, nil)", all, valid)
		}
		return ""
	}
	if len(valid) != len(cases) {
		return fmt.Sprintf("%d verdicts for %d entries", len(valid), len(cases))
	}
	wantAll := true
	for i, c := range cases {
		single := Verify(c.pk, c.domain, c.chainID, c.msg, c.sig) == nil
		if valid[i] != single {
			return fmt.Sprintf("entry %d (%s): batch says %v, Verify says %v", i, c.kind, valid[i], single)
		}
		if single != c.want {
			return fmt.Sprintf("entry %d (%s): verdict %v, want %v", i, c.kind, single, c.want)
		}
		wantAll = wantAll && single
	}
	if all != wantAll {
		return fmt.Sprintf("allValid = %v, want %v", all, wantAll)
	}
	return ""
}

// TestBatchAgreesWithVerify is the property behind the package doc: for
// random batches mixing valid signatures, cofactor-only-valid ones, small-
// order and non-canonical keys and R values, corrupted bits, S+L and
// oversized chain ids, every per-entry batch verdict equals Verify's, and
// both equal the verdict the case was built to have.
func TestBatchAgreesWithVerify(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 24).Draw(rt, "n")
		cases := make([]sigCase, n)
		for i := range cases {
			kind := rapid.IntRange(0, len(sigCaseKinds)-1).Draw(rt, "kind")
			key := rapid.ByteRange(0, 7).Draw(rt, "key")
			variant := rapid.IntRange(0, 1023).Draw(rt, "variant")
			msg := rapid.SliceOfN(rapid.Byte(), 0, 48).Draw(rt, "msg")
			noise := rapid.SliceOfN(rapid.Byte(), 0, 96).Draw(rt, "noise")
			cases[i] = makeSigCase(kind, key, variant, msg, noise)
		}
		capacity := rapid.IntRange(0, 32).Draw(rt, "capacity")
		if msg := checkBatchAgreement(cases, capacity); msg != "" {
			rt.Fatal(msg)
		}
	})
}

// TestBatchEveryKind runs each kind and variant alone and among valid
// entries, so every branch of makeSigCase is exercised on every run, not
// only when rapid happens to draw it.
func TestBatchEveryKind(t *testing.T) {
	for kind := range sigCaseKinds {
		for variant := range 8 {
			c := makeSigCase(kind, byte(variant), variant*67, []byte("msg"), []byte{byte(variant)})
			if msg := checkBatchAgreement([]sigCase{c}, 1); msg != "" {
				t.Errorf("alone: %s", msg)
			}
			v := makeSigCase(0, 1, 0, []byte("other"), nil)
			if msg := checkBatchAgreement([]sigCase{v, c, v}, 0); msg != "" {
				t.Errorf("among valid: %s", msg)
			}
		}
	}
}

// TestBatchLarge checks batches past the size where the batch verifier
// switches from precomputed tables to a plain multiscalar multiplication:
// all valid, then one bad entry that must be singled out.
func TestBatchLarge(t *testing.T) {
	cases := make([]sigCase, 200)
	for i := range cases {
		cases[i] = makeSigCase(0, byte(i%8), 0, []byte{byte(i), byte(i >> 8)}, nil)
	}
	if msg := checkBatchAgreement(cases, len(cases)); msg != "" {
		t.Fatal(msg)
	}
	cases[150] = makeSigCase(4, 3, 77, []byte("bad"), nil)
	cases[151] = makeSigCase(1, 3, 5, []byte("torsion"), nil)
	if msg := checkBatchAgreement(cases, 0); msg != "" {
		t.Fatal(msg)
	}
}

// TestBatchEmptyAndReuse checks the empty batch's verdict (all valid, no
// entries) and that a verifier is reusable after Verify.
func TestBatchEmptyAndReuse(t *testing.T) {
	bv := NewBatchVerifier(0)
	if all, valid := bv.Verify(); !all || valid != nil {
		t.Fatalf("empty batch: (%v, %v)", all, valid)
	}
	k := testKey(t, 1)
	bv.Add(k.Public(), DomainTx, "c", nil, Signature{})
	if all, valid := bv.Verify(); all || len(valid) != 1 || valid[0] {
		t.Fatalf("bad entry: (%v, %v)", all, valid)
	}
	bv.Add(k.Public(), DomainTx, "c", nil, k.Sign(DomainTx, "c", nil))
	if all, valid := bv.Verify(); !all || len(valid) != 1 || !valid[0] {
		t.Fatalf("after reuse: (%v, %v); the earlier bad entry leaked", all, valid)
	}
	long := strings.Repeat("x", ChainIDBytesMax+1)
	bv.Add(k.Public(), DomainTx, long, nil, Signature{})
	if all, valid := bv.Verify(); all || len(valid) != 1 || valid[0] {
		t.Fatalf("only a refused entry: (%v, %v)", all, valid)
	}
	if all, valid := bv.Verify(); !all || valid != nil {
		t.Fatalf("refused entries leaked into the next batch: (%v, %v)", all, valid)
	}
}

// TestStdAcceptsWhatBatchRejects documents the gap ValidatePublicKey
// closes, on the batch path: crypto/ed25519 accepts the identity-key
// signature, the batch refuses it and still accepts its valid neighbours.
func TestStdAcceptsWhatBatchRejects(t *testing.T) {
	bad := makeSigCase(7, 0, 0, []byte("anything"), nil)
	payload := SigningPayload(bad.domain, bad.chainID, bad.msg)
	if !ed25519.Verify(bad.pk[:], payload, bad.sig[:]) {
		t.Fatal("crypto/ed25519 refused the small-order-key signature")
	}
	good := makeSigCase(0, 2, 0, []byte("fine"), nil)
	bv := NewBatchVerifier(2)
	bv.Add(good.pk, good.domain, good.chainID, good.msg, good.sig)
	bv.Add(bad.pk, bad.domain, bad.chainID, bad.msg, bad.sig)
	all, valid := bv.Verify()
	if all || !valid[0] || valid[1] {
		t.Fatalf("batch verdict (%v, %v), want (false, [true false])", all, valid)
	}
}
