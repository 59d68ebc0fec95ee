package pbft

import (
	"errors"
	"fmt"

	"github.com/synod-chain/synod/ledger"
)

// Catch-up: a replica that learns of a quorum-certified height above what it
// has committed (a stable checkpoint from CHECKPOINT messages, a
// VIEW-CHANGE or a NEW-VIEW), or of CHECKPOINTs from f+1 peers beyond its
// window (checkBehind), asks the node for the blocks in between with
// their commit certificates, and accepts each only after verifying its
// certificate. Fetching is the node's job (the block sync protocol).

// ErrNotNext is returned by DeliverCommitted for a block that is not the
// next height; the node should deliver blocks in order.
var ErrNotNext = errors.New("pbft: delivered block is not the next height")

func (r *Replica) requestCatchUp(to uint64, peers []uint16) {
	if to <= r.committed || to <= r.catchUpTarget {
		return
	}
	r.catchUpTarget = to
	r.catchUpTicks = 0
	// A quorum certified a height above ours: the network is live, and
	// this replica is behind, not the primary faulty. Restart the idle
	// timer so it waits for the blocks instead of moving to the next view
	// alone, where it would sit out of every quorum until the others
	// change view too.
	r.idleTicks = 0
	r.event(EventCatchUp{FromHeight: r.committed + 1, ToHeight: to, Peers: peers})
}

// tickCatchUp repeats an unanswered catch-up request once per base timeout.
func (r *Replica) tickCatchUp() {
	if r.committed >= r.catchUpTarget {
		return
	}
	r.catchUpTicks++
	if r.catchUpTicks >= r.base {
		r.catchUpTicks = 0
		r.event(EventCatchUp{FromHeight: r.committed + 1, ToHeight: r.catchUpTarget})
	}
}

// DeliverCommitted hands the replica a committed block fetched from a peer.
// The certificate is verified and the block validated by the application
// before it is committed; it then appears in Ready.Committed like any other.
// A block at or below the committed height is ignored. A failure of this
// node's own state while validating it halts the replica (Ready.Fault).
// The application validates it with ValidateCommitted, which makes room
// for it by dropping the blocks the certificate proves will never commit:
// however many blocks Byzantine primaries left pending above the head, a
// replica that fell behind can always take the block the network
// committed. Should an Application refuse it all the same, the error is
// returned, the replica's state is unchanged (the application may have
// dropped the dead blocks already, which the verified certificate makes
// safe), and it can be delivered again later (the replica repeats its
// EventCatchUp while it stays behind).
func (r *Replica) DeliverCommitted(b *ledger.Block, cert *ledger.CommitCertificate) error {
	if r.fault != nil {
		return fmt.Errorf("%w: %w", ErrHalted, r.fault)
	}
	if b == nil || cert == nil {
		return fmt.Errorf("%w: nil block or certificate", ErrInvalid)
	}
	h := b.Header.Height
	if h <= r.committed {
		return nil
	}
	if h != r.committed+1 {
		return fmt.Errorf("%w: height %d, next is %d", ErrNotNext, h, r.committed+1)
	}
	if cert.Height != h || cert.BlockHash != b.Hash() {
		return fmt.Errorf("%w: certificate for %d/%s, block %d/%s", ledger.ErrCertWrongBlock, cert.Height, cert.BlockHash.Short(), h, b.Hash().Short())
	}
	if err := r.verifyCommitCertificate(cert); err != nil {
		return fmt.Errorf("deliver block %d: %w", h, err)
	}
	if b.Header.ParentHash != r.committedHash {
		return fmt.Errorf("%w: certified block %d does not extend the committed head (more than f faulty)", ErrInvalid, h)
	}
	if err := r.cfg.App.ValidateCommitted(b); err != nil {
		err = fmt.Errorf("deliver block %d: %w", h, err)
		if errors.Is(err, ledger.ErrLocalState) {
			r.localFault(err)
		}
		return err
	}
	r.commit(b, cert)
	r.execute()
	r.advance(r.committed + 1)
	return nil
}

// CertificateVerifier is implemented by a Verifier that checks a whole
// commit certificate faster than signature by signature (in one batch).
// Its verdict must equal VerifyCommitCertificate's with the same Verifier.
// Catch-up checks one certificate per block, so it is on the path of every
// synced block.
type CertificateVerifier interface {
	VerifyCertificate(c *ledger.CommitCertificate, vals *ledger.ValidatorSet) error
}

var _ CertificateVerifier = Ed25519Verifier{}

// VerifyCertificate implements CertificateVerifier: for its own validator
// set, ledger.CommitCertificate.Verify checks the same things with the
// signatures in one batch.
func (v Ed25519Verifier) VerifyCertificate(c *ledger.CommitCertificate, vals *ledger.ValidatorSet) error {
	if vals != v.Validators {
		return VerifyCommitCertificate(c, vals, v)
	}
	return c.Verify(v.ChainID, vals)
}

// verifyCommitCertificate checks a synced block's certificate against the
// validator set, in one batch when the Verifier can.
func (r *Replica) verifyCommitCertificate(c *ledger.CommitCertificate) error {
	if cv, ok := r.cfg.Verifier.(CertificateVerifier); ok {
		return cv.VerifyCertificate(c, r.cfg.Validators)
	}
	return VerifyCommitCertificate(c, r.cfg.Validators, r.cfg.Verifier)
}
