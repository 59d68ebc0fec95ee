package ledger

import (
	"errors"
	"fmt"
	"slices"

	"github.com/synod-chain/synod/crypto"
)

// CertificateBytesMax bounds an encoded commit certificate:
// 1+8+8+32+4 + ValidatorsMax*(2+64).
const CertificateBytesMax = 53 + ValidatorsMax*(2+crypto.SignatureBytes)

// voteTagCommit starts the signed bytes of a COMMIT vote. The consensus
// engine signs its COMMIT messages over exactly CommitVoteBytes, so the
// commit messages a replica collects are the certificate.
const voteTagCommit = "commit"

// Errors from certificate verification.
var (
	ErrCertNoQuorum   = errors.New("certificate: fewer signatures than a quorum")
	ErrCertBadOrder   = errors.New("certificate: validator indices not strictly ascending")
	ErrCertBadIndex   = errors.New("certificate: validator index out of range")
	ErrCertBadSig     = errors.New("certificate: invalid signature")
	ErrCertWrongBlock = errors.New("certificate: does not certify this block")
)

// CommitSignature is one validator's signature over CommitVoteBytes.
type CommitSignature struct {
	Validator uint16
	Signature crypto.Signature
}

// CommitCertificate proves that a quorum of validators committed the block
// with BlockHash at Height in View. It is checked on its own against the
// validator set, so a node can accept a block from any peer that serves it.
type CommitCertificate struct {
	Height     uint64
	View       uint64
	BlockHash  crypto.Hash
	Signatures []CommitSignature
}

// CommitVoteBytes is the message a validator signs (under
// crypto.DomainConsensus and the chain id) to vote COMMIT for a block.
func CommitVoteBytes(height, view uint64, blockHash crypto.Hash) []byte {
	e := encoder{buf: make([]byte, 0, len(voteTagCommit)+1+16+crypto.HashBytes)}
	e.bytes8([]byte(voteTagCommit))
	e.u64(height)
	e.u64(view)
	e.raw(blockHash[:])
	return e.buf
}

// Verify checks that c carries valid COMMIT signatures of a quorum of
// distinct validators of vals on chain chainID.
func (c *CommitCertificate) Verify(chainID string, vals *ValidatorSet) error {
	_, err := VerifyCertificates(chainID, vals, []*CommitCertificate{c})
	return err
}

// VerifyCertificates is Verify for each of certs, with all their
// signatures checked in one batch (much cheaper per signature than a
// batch per certificate). It returns how many certificates, from the
// first, are valid, and why the next one is not.
func VerifyCertificates(chainID string, vals *ValidatorSet, certs []*CommitCertificate) (good int, err error) {
	// Certificates after the first malformed one stay out of the batch: a
	// bad signature before it is the first failure.
	batch := crypto.NewBatchVerifier(len(certs) * vals.Quorum())
	var owner []int // certificate index of each batched signature
	firstMalformed, malformed := len(certs), error(nil)
	for i, c := range certs {
		if err := c.addTo(batch, chainID, vals); err != nil {
			firstMalformed, malformed = i, err
			break
		}
		for range c.Signatures {
			owner = append(owner, i)
		}
	}
	if allValid, valid := batch.Verify(); !allValid {
		for j, ok := range valid {
			if !ok {
				c := certs[owner[j]]
				k := j - slices.Index(owner, owner[j])
				return owner[j], fmt.Errorf("%w: validator %d", ErrCertBadSig, c.Signatures[k].Validator)
			}
		}
	}
	return firstMalformed, malformed
}

// addTo checks c's quorum and signer indices and queues its signatures.
func (c *CommitCertificate) addTo(batch *crypto.BatchVerifier, chainID string, vals *ValidatorSet) error {
	if len(c.Signatures) < vals.Quorum() {
		return fmt.Errorf("%w: %d of %d needed", ErrCertNoQuorum, len(c.Signatures), vals.Quorum())
	}
	for i, s := range c.Signatures {
		if !vals.Contains(int(s.Validator)) {
			return fmt.Errorf("%w: %d", ErrCertBadIndex, s.Validator)
		}
		if i > 0 && s.Validator <= c.Signatures[i-1].Validator {
			return ErrCertBadOrder
		}
	}
	msg := CommitVoteBytes(c.Height, c.View, c.BlockHash)
	for _, s := range c.Signatures {
		batch.Add(vals.At(int(s.Validator)).PublicKey, crypto.DomainConsensus, chainID, msg, s.Signature)
	}
	return nil
}

// VerifyFor checks c as Verify does and that it certifies block b.
func (c *CommitCertificate) VerifyFor(chainID string, vals *ValidatorSet, b *Block) error {
	if err := c.MatchesBlock(b); err != nil {
		return err
	}
	return c.Verify(chainID, vals)
}

// MatchesBlock checks that c is for b's height and hash, without
// verifying its signatures.
func (c *CommitCertificate) MatchesBlock(b *Block) error {
	if c.Height != b.Header.Height || c.BlockHash != b.Hash() {
		return fmt.Errorf("%w: certificate for height %d hash %s, block height %d hash %s",
			ErrCertWrongBlock, c.Height, c.BlockHash.Short(), b.Header.Height, b.Hash().Short())
	}
	return nil
}

// Encode returns the canonical encoding.
func (c *CommitCertificate) Encode() []byte {
	e := encoder{buf: make([]byte, 0, 53+len(c.Signatures)*(2+crypto.SignatureBytes))}
	e.u8(1)
	e.u64(c.Height)
	e.u64(c.View)
	e.raw(c.BlockHash[:])
	e.u32(uint32(len(c.Signatures)))
	for _, s := range c.Signatures {
		e.u16(s.Validator)
		e.raw(s.Signature[:])
	}
	return e.buf
}

// DecodeCommitCertificate decodes a canonical certificate. It checks the
// encoding only; Verify checks the signatures.
func DecodeCommitCertificate(b []byte) (*CommitCertificate, error) {
	if len(b) > CertificateBytesMax {
		return nil, fmt.Errorf("decode certificate: %w: %d bytes exceeds %d", ErrMalformed, len(b), CertificateBytesMax)
	}
	d := decoder{buf: b}
	if v := d.u8("certificate version"); d.fail == nil && v != 1 {
		d.setErr("certificate version %d, want 1", v)
	}
	c := &CommitCertificate{Height: d.u64("height"), View: d.u64("view"), BlockHash: d.hash("block hash")}
	n := d.count(ValidatorsMax, "signatures")
	if d.fail == nil && n > 0 {
		c.Signatures = make([]CommitSignature, n)
	}
	for i := 0; i < n && d.fail == nil; i++ {
		c.Signatures[i].Validator = d.u16("validator index")
		d.fixed(c.Signatures[i].Signature[:], "signature")
	}
	if err := d.finish("certificate"); err != nil {
		return nil, err
	}
	return c, nil
}
