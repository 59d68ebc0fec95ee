package ledger_test

import (
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// validatorSet makes a set of the first n fixture keys.
func validatorSet(t fataler, n int) *ledger.ValidatorSet {
	t.Helper()
	vals := make([]ledger.Validator, n)
	for i := range vals {
		vals[i] = ledger.Validator{Name: "v", PublicKey: testKey(i).Public()}
	}
	set, err := ledger.NewValidatorSet(vals)
	if err != nil {
		t.Fatalf("NewValidatorSet: %v", err)
	}
	return set
}

// commitSig is validator index's COMMIT signature, made with key.
func commitSig(key crypto.PrivateKey, index uint16, chainID string, height, view uint64, hash crypto.Hash) ledger.CommitSignature {
	return ledger.CommitSignature{
		Validator: index,
		Signature: key.Sign(crypto.DomainConsensus, chainID, ledger.CommitVoteBytes(height, view, hash)),
	}
}

// certBy returns a certificate for (height, view, hash) signed by the
// fixture validators with the given indices, in the given order.
func certBy(height, view uint64, hash crypto.Hash, indices ...int) *ledger.CommitCertificate {
	c := &ledger.CommitCertificate{Height: height, View: view, BlockHash: hash}
	for _, i := range indices {
		c.Signatures = append(c.Signatures, commitSig(testKey(i), uint16(i), testChain, height, view, hash))
	}
	return c
}

// TestCommitCertificateVerify checks Verify on real ed25519 signatures
// over CommitVoteBytes: a quorum of n = 4 verifies, and each defect (too
// few, duplicate, unsorted, out of range, non-member, another height, view,
// hash or chain) is refused with its own sentinel.
func TestCommitCertificateVerify(t *testing.T) {
	vals := validatorSet(t, 4)
	if vals.Quorum() != 3 {
		t.Fatalf("fixture: quorum of 4 is %d", vals.Quorum())
	}
	block := &ledger.Block{Header: ledger.Header{ChainID: testChain, Height: 7, View: 2, Timestamp: 1}}
	hash := block.Hash()
	for _, idx := range [][]int{{0, 1, 2}, {1, 2, 3}, {0, 2, 3}, {0, 1, 2, 3}} {
		if err := certBy(7, 2, hash, idx...).VerifyFor(testChain, vals, block); err != nil {
			t.Errorf("signed by %v: %v", idx, err)
		}
	}

	withSig := func(c *ledger.CommitCertificate, i int, s ledger.CommitSignature) *ledger.CommitCertificate {
		c.Signatures[i] = s
		return c
	}
	otherHash := hash
	otherHash[0] ^= 1
	cases := []struct {
		name string
		cert *ledger.CommitCertificate
		want error
	}{
		{"fewer than a quorum", certBy(7, 2, hash, 0, 1), ledger.ErrCertNoQuorum},
		{"no signatures", certBy(7, 2, hash), ledger.ErrCertNoQuorum},
		{"duplicate index", certBy(7, 2, hash, 0, 1, 1), ledger.ErrCertBadOrder},
		{"unsorted indices", certBy(7, 2, hash, 1, 0, 2), ledger.ErrCertBadOrder},
		{"out-of-range index", withSig(certBy(7, 2, hash, 0, 1, 2), 2, commitSig(testKey(4), 4, testChain, 7, 2, hash)), ledger.ErrCertBadIndex},
		{"huge index", withSig(certBy(7, 2, hash, 0, 1, 2), 2, commitSig(testKey(2), 65535, testChain, 7, 2, hash)), ledger.ErrCertBadIndex},
		{"non-member signature", withSig(certBy(7, 2, hash, 0, 1, 2), 2, commitSig(testKey(9), 2, testChain, 7, 2, hash)), ledger.ErrCertBadSig},
		{"member signing for another index", withSig(certBy(7, 2, hash, 0, 1, 2), 2, commitSig(testKey(3), 2, testChain, 7, 2, hash)), ledger.ErrCertBadSig},
		{"signature for another height", withSig(certBy(7, 2, hash, 0, 1, 2), 1, commitSig(testKey(1), 1, testChain, 8, 2, hash)), ledger.ErrCertBadSig},
		{"signature for another view", withSig(certBy(7, 2, hash, 0, 1, 2), 0, commitSig(testKey(0), 0, testChain, 7, 3, hash)), ledger.ErrCertBadSig},
		{"signature for another hash", withSig(certBy(7, 2, hash, 0, 1, 2), 2, commitSig(testKey(2), 2, testChain, 7, 2, otherHash)), ledger.ErrCertBadSig},
		{"signature for another chain", withSig(certBy(7, 2, hash, 0, 1, 2), 2, commitSig(testKey(2), 2, "synod-other", 7, 2, hash)), ledger.ErrCertBadSig},
		{"a tx-domain signature", withSig(certBy(7, 2, hash, 0, 1, 2), 0, ledger.CommitSignature{Validator: 0,
			Signature: testKey(0).Sign(crypto.DomainTx, testChain, ledger.CommitVoteBytes(7, 2, hash))}), ledger.ErrCertBadSig},
	}
	for _, tc := range cases {
		if err := tc.cert.Verify(testChain, vals); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Every signature valid, but checked against another chain id.
	if err := certBy(7, 2, hash, 0, 1, 2).Verify("synod-other", vals); !errors.Is(err, ledger.ErrCertBadSig) {
		t.Errorf("verified for another chain: err = %v, want ErrCertBadSig", err)
	}
	// The certificate's own fields changed after signing.
	moved := certBy(7, 2, hash, 0, 1, 2)
	moved.View = 5
	if err := moved.Verify(testChain, vals); !errors.Is(err, ledger.ErrCertBadSig) {
		t.Errorf("view changed after signing: err = %v, want ErrCertBadSig", err)
	}
}

// TestCommitCertificateVerifyForOtherBlock checks that a valid certificate
// does not certify a different block, at another height or with another
// hash at the same height.
func TestCommitCertificateVerifyForOtherBlock(t *testing.T) {
	vals := validatorSet(t, 4)
	block := &ledger.Block{Header: ledger.Header{ChainID: testChain, Height: 7, View: 2}}
	cert := certBy(7, 2, block.Hash(), 0, 1, 2)
	if err := cert.VerifyFor(testChain, vals, block); err != nil {
		t.Fatalf("own block: %v", err)
	}
	sibling := &ledger.Block{Header: block.Header}
	sibling.Header.Timestamp++
	next := &ledger.Block{Header: block.Header}
	next.Header.Height++
	for name, b := range map[string]*ledger.Block{"sibling": sibling, "next height": next} {
		if err := cert.VerifyFor(testChain, vals, b); !errors.Is(err, ledger.ErrCertWrongBlock) {
			t.Errorf("%s: err = %v, want ErrCertWrongBlock", name, err)
		}
	}
}

// TestCommitCertificateQuorumProperty checks over random validator sets
// (n = 1..10) and random signer subsets that a certificate of valid
// signatures verifies exactly when the signers number at least Quorum(),
// and that its encoding round trips.
func TestCommitCertificateQuorumProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 10).Draw(t, "n")
		vals := validatorSet(t, n)
		hash := genHash().Draw(t, "hash")
		var signers []int
		for i := range n {
			if rapid.Bool().Draw(t, "signs") {
				signers = append(signers, i)
			}
		}
		cert := certBy(5, 1, hash, signers...)
		err := cert.Verify(testChain, vals)
		if (len(signers) >= vals.Quorum()) != (err == nil) {
			t.Fatalf("n %d quorum %d, %d signers: err = %v", n, vals.Quorum(), len(signers), err)
		}
		if err != nil && !errors.Is(err, ledger.ErrCertNoQuorum) {
			t.Fatalf("too few signers reported as %v", err)
		}
		dec, derr := ledger.DecodeCommitCertificate(cert.Encode())
		if derr != nil {
			t.Fatalf("decode: %v", derr)
		}
		if verr := dec.Verify(testChain, vals); (verr == nil) != (err == nil) {
			t.Fatalf("decoded certificate verifies differently: %v vs %v", verr, err)
		}
	})
}

// TestVerifyCertificatesFindsTheFirstBad checks the one-batch check of
// many certificates: it passes a valid run whole, and otherwise reports
// the first bad certificate with its own error, whether a later one is
// malformed or an earlier one carries a bad signature.
func TestVerifyCertificatesFindsTheFirstBad(t *testing.T) {
	vals := validatorSet(t, 4)
	hash := crypto.Sum256([]byte("block"))
	good := func(h uint64) *ledger.CommitCertificate { return certBy(h, 0, hash, 0, 1, 2) }
	badSig := func(h uint64) *ledger.CommitCertificate {
		c := certBy(h, 0, hash, 0, 1, 3)
		c.Signatures[2].Signature[7] ^= 1
		return c
	}
	short := func(h uint64) *ledger.CommitCertificate { return certBy(h, 0, hash, 0, 1) }
	for _, tc := range []struct {
		name     string
		certs    []*ledger.CommitCertificate
		wantGood int
		wantErr  error
	}{
		{"all valid", []*ledger.CommitCertificate{good(1), good(2), good(3)}, 3, nil},
		{"bad signature third", []*ledger.CommitCertificate{good(1), good(2), badSig(3), good(4)}, 2, ledger.ErrCertBadSig},
		{"too few second", []*ledger.CommitCertificate{good(1), short(2), good(3)}, 1, ledger.ErrCertNoQuorum},
		{"bad signature before a malformed one", []*ledger.CommitCertificate{good(1), badSig(2), short(3)}, 1, ledger.ErrCertBadSig},
		{"none", nil, 0, nil},
	} {
		good, err := ledger.VerifyCertificates(testChain, vals, tc.certs)
		if good != tc.wantGood || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
			t.Errorf("%s: %d good, %v; want %d, %v", tc.name, good, err, tc.wantGood, tc.wantErr)
		}
	}
}
