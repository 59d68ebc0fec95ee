package node

import (
	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// certVerifier is the replica's Verifier with a memory of the commit
// certificates that verified. Block sync checks each synced block's
// certificate ahead of the consensus loop, to stop at a peer serving a bad
// one before its blocks queue up; the replica checks it again when the
// block is delivered, and finds the first verdict instead of verifying
// 2f+1 signatures a second time (a fifth of the loop's work in catch-up).
//
// A hit is exact: the key is the hash of the certificate's whole canonical
// encoding, and every certVerifier sharing one cache verifies against the
// same chain id and validator set (the genesis's).
type certVerifier struct {
	pbft.Ed25519Verifier
	// verified holds the encoding hashes of certificates that verified
	// against Validators; nil remembers nothing.
	verified *ledger.SigCache
}

var _ pbft.CertificateVerifier = certVerifier{}

// VerifyCertificate implements pbft.CertificateVerifier.
func (v certVerifier) VerifyCertificate(c *ledger.CommitCertificate, vals *ledger.ValidatorSet) error {
	if v.verified == nil || vals != v.Validators {
		return v.Ed25519Verifier.VerifyCertificate(c, vals)
	}
	h := crypto.Sum256(c.Encode())
	if v.verified.Contains(h) {
		return nil
	}
	if err := v.Ed25519Verifier.VerifyCertificate(c, vals); err != nil {
		return err
	}
	v.verified.Add(h)
	return nil
}

// verifyFor checks that c certifies b, then verifies c.
func (v certVerifier) verifyFor(c *ledger.CommitCertificate, b *ledger.Block) error {
	if err := c.MatchesBlock(b); err != nil {
		return err
	}
	return v.VerifyCertificate(c, v.Validators)
}
