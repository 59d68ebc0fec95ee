package pbft

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Signer signs this replica's messages. The bytes given are a message's
// SigningBytes; for COMMIT they are exactly ledger.CommitVoteBytes, so a
// signer that signs under crypto.DomainConsensus and the chain id makes the
// collected COMMITs a ledger.CommitCertificate.
type Signer interface {
	Sign(payload []byte) crypto.Signature
}

// Verifier checks that validator signed payload.
type Verifier interface {
	Verify(validator uint16, payload []byte, sig crypto.Signature) error
}

// ErrBadSignature is returned for a message whose signature does not verify.
var ErrBadSignature = errors.New("pbft: invalid signature")

// Ed25519Signer signs with the validator's ed25519 key under
// crypto.DomainConsensus and the chain id: production's signer.
type Ed25519Signer struct {
	Key     crypto.PrivateKey
	ChainID string
}

// Sign implements Signer.
func (s Ed25519Signer) Sign(payload []byte) crypto.Signature {
	return s.Key.Sign(crypto.DomainConsensus, s.ChainID, payload)
}

// Ed25519Verifier checks signatures against the validator set's keys.
type Ed25519Verifier struct {
	Validators *ledger.ValidatorSet
	ChainID    string
}

// Verify implements Verifier.
func (v Ed25519Verifier) Verify(validator uint16, payload []byte, sig crypto.Signature) error {
	if !v.Validators.Contains(int(validator)) {
		return fmt.Errorf("%w: unknown validator %d", ErrBadSignature, validator)
	}
	if err := crypto.Verify(v.Validators.At(int(validator)).PublicKey, crypto.DomainConsensus, v.ChainID, payload, sig); err != nil {
		return fmt.Errorf("%w: validator %d: %w", ErrBadSignature, validator, err)
	}
	return nil
}

// KeyedHashSigner is the simulator's fast signature scheme: the first 32
// bytes of a signature are SHA-256(secret || payload). Only the holder of a
// validator's secret can produce its signatures, which is all the simulator
// needs (a Byzantine replica holds only its own secret); it is not a
// public-key scheme and must never be used outside tests.
type KeyedHashSigner struct{ Secret crypto.Hash }

// Sign implements Signer.
func (s KeyedHashSigner) Sign(payload []byte) crypto.Signature {
	h := sha256.New()
	h.Write(s.Secret[:])
	h.Write(payload)
	var sig crypto.Signature
	h.Sum(sig[:0])
	return sig
}

// KeyedHashVerifier checks KeyedHashSigner signatures; it holds every
// validator's secret.
type KeyedHashVerifier struct{ Secrets []crypto.Hash }

// Verify implements Verifier.
func (v KeyedHashVerifier) Verify(validator uint16, payload []byte, sig crypto.Signature) error {
	if int(validator) >= len(v.Secrets) {
		return fmt.Errorf("%w: unknown validator %d", ErrBadSignature, validator)
	}
	if (KeyedHashSigner{Secret: v.Secrets[validator]}).Sign(payload) != sig {
		return fmt.Errorf("%w: validator %d", ErrBadSignature, validator)
	}
	return nil
}

// NoopSigner signs nothing and NoopVerifier accepts everything: for
// benchmarks of the engine alone, never for a network with faults.
type NoopSigner struct{}

// Sign implements Signer.
func (NoopSigner) Sign([]byte) crypto.Signature { return crypto.Signature{} }

// NoopVerifier accepts every signature of a known validator.
type NoopVerifier struct{ Validators int }

// Verify implements Verifier.
func (v NoopVerifier) Verify(validator uint16, _ []byte, _ crypto.Signature) error {
	if int(validator) >= v.Validators {
		return fmt.Errorf("%w: unknown validator %d", ErrBadSignature, validator)
	}
	return nil
}

// VerifyCommitCertificate checks a commit certificate as
// ledger.CommitCertificate.Verify does, with an injected Verifier: a quorum
// of distinct validators in ascending order, each signature over
// ledger.CommitVoteBytes. With an Ed25519Verifier the two agree.
func VerifyCommitCertificate(c *ledger.CommitCertificate, vals *ledger.ValidatorSet, v Verifier) error {
	if len(c.Signatures) < vals.Quorum() {
		return fmt.Errorf("%w: %d of %d needed", ledger.ErrCertNoQuorum, len(c.Signatures), vals.Quorum())
	}
	msg := ledger.CommitVoteBytes(c.Height, c.View, c.BlockHash)
	for i, s := range c.Signatures {
		if !vals.Contains(int(s.Validator)) {
			return fmt.Errorf("%w: %d", ledger.ErrCertBadIndex, s.Validator)
		}
		if i > 0 && s.Validator <= c.Signatures[i-1].Validator {
			return ledger.ErrCertBadOrder
		}
		if err := v.Verify(s.Validator, msg, s.Signature); err != nil {
			return fmt.Errorf("%w: %w", ledger.ErrCertBadSig, err)
		}
	}
	return nil
}
