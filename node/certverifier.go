package node

import (
	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
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
	// votes holds the verdicts of the consensus loop's vote batch (the
	// replica's verifier only; nil for block sync's).
	votes *voteSigs
}

var (
	_ pbft.CertificateVerifier = certVerifier{}
	_ pbft.Verifier            = certVerifier{}
)

// Verify implements pbft.Verifier: a vote the loop's batch found valid is
// not checked again.
func (v certVerifier) Verify(validator uint16, payload []byte, sig crypto.Signature) error {
	if v.votes != nil && v.votes.verified(validator, payload, sig) {
		return nil
	}
	return v.Ed25519Verifier.Verify(validator, payload, sig)
}

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

// verifyBlocks checks that each synced block carries a certificate for it
// and verifies the certificates not yet remembered, all in one signature
// batch. It returns how many blocks, from the first, passed, and why the
// next did not.
func (v certVerifier) verifyBlocks(blocks []p2p.SyncedBlock) (good int, err error) {
	matched, mismatch := len(blocks), error(nil)
	for i, sb := range blocks {
		if sb.Certificate == nil {
			matched, mismatch = i, ledger.ErrCertWrongBlock
			break
		}
		if err := sb.Certificate.MatchesBlock(sb.Block); err != nil {
			matched, mismatch = i, err
			break
		}
	}
	var unverified []*ledger.CommitCertificate
	var keys []crypto.Hash
	var at []int // block index of each certificate in unverified
	for i, sb := range blocks[:matched] {
		var key crypto.Hash
		if v.verified != nil {
			key = crypto.Sum256(sb.Certificate.Encode())
			if v.verified.Contains(key) {
				continue
			}
		}
		unverified, keys, at = append(unverified, sb.Certificate), append(keys, key), append(at, i)
	}
	ok, err := ledger.VerifyCertificates(v.ChainID, v.Validators, unverified)
	if v.verified != nil {
		for _, key := range keys[:ok] {
			v.verified.Add(key)
		}
	}
	if err != nil {
		return at[ok], err
	}
	return matched, mismatch
}
