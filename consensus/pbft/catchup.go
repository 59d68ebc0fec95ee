package pbft

import (
	"errors"
	"fmt"

	"github.com/synod-chain/synod/ledger"
)

// Catch-up: a replica that learns of a quorum-certified height above what it
// has committed (a stable checkpoint from CHECKPOINT messages, a
// VIEW-CHANGE or a NEW-VIEW) asks the node for the blocks in between with
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
// A block at or below the committed height is ignored.
func (r *Replica) DeliverCommitted(b *ledger.Block, cert *ledger.CommitCertificate) error {
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
	if err := VerifyCommitCertificate(cert, r.cfg.Validators, r.cfg.Verifier); err != nil {
		return fmt.Errorf("deliver block %d: %w", h, err)
	}
	if b.Header.ParentHash != r.committedHash {
		return fmt.Errorf("%w: certified block %d does not extend the committed head (more than f faulty)", ErrInvalid, h)
	}
	if err := r.cfg.App.Validate(b); err != nil {
		return fmt.Errorf("deliver block %d: %w", h, err)
	}
	r.commit(b, cert)
	r.execute()
	r.advance(r.committed + 1)
	return nil
}
