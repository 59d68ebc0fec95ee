package pbft

import (
	"bytes"
)

// selectProposals computes what NEW-VIEW re-proposes from a set of
// VIEW-CHANGE messages (Castro & Liskov 1999 §4.4, adapted to a hash chain).
// The base is the highest stable checkpoint among them. Walking heights up
// from it, at each height it picks, among the prepared certificates whose
// block's parent is the block selected at the height below, the one of the
// highest view; it stops at the first height with none, and never goes
// beyond the base plus the window.
//
// Why stopping is safe. Suppose block B committed at height h in view v.
// A quorum sent COMMIT for B, so at least f+1 correct replicas hold a
// prepared certificate for B in view v, and, by the chaining rule
// (parentReady), each of them held one of view v for every uncommitted
// ancestor of B when it prepared B; committed ancestors were themselves
// prepared by a quorum. Certificates are replaced only by ones of higher
// views, and by the usual PBFT induction on views no certificate of a view
// above v exists at those heights for any other block. Every quorum of
// VIEW-CHANGEs includes one of those correct replicas, so at each height
// from the base up to h the highest-view certificate linked to the block
// below is B's ancestor (the base itself is B's ancestor: a stable
// checkpoint is a quorum-certified committed block). Hence the walk reaches
// h and selects B: a committed block is always selected, and any height the
// walk stops at, and everything above it, holds no committed block; leaving
// it out only costs a re-proposal, never safety. A block above a gap would
// have no linked parent and could never be executed anyway.
//
// The result depends only on the set of messages, so every replica
// recomputes it from the NEW-VIEW and compares.
func selectProposals(vcs []*Message, window uint64) (CheckpointProof, []PreparedCertificate) {
	var base CheckpointProof
	for i, m := range vcs {
		if cp := m.ViewChange.Checkpoint; i == 0 || cp.Height > base.Height {
			base = cp
		}
	}
	byHeight := make(map[uint64][]*PreparedCertificate)
	for _, m := range vcs {
		for i := range m.ViewChange.Prepared {
			c := &m.ViewChange.Prepared[i]
			if c.Height() > base.Height && c.Height() <= base.Height+window {
				byHeight[c.Height()] = append(byHeight[c.Height()], c)
			}
		}
	}
	var sel []PreparedCertificate
	parent := base.Digest
	for h := base.Height + 1; h <= base.Height+window; h++ {
		var best *PreparedCertificate
		var bestHash [32]byte
		for _, c := range byHeight[h] {
			if c.Header.ParentHash != parent {
				continue
			}
			d := c.Header.Hash()
			// Two certificates of one view for different blocks need more
			// than f faulty; break the tie deterministically anyway.
			if best == nil || c.View > best.View || (c.View == best.View && bytes.Compare(d[:], bestHash[:]) < 0) {
				best, bestHash = c, d
			}
		}
		if best == nil {
			break
		}
		sel = append(sel, *best)
		parent = bestHash
	}
	return base, sel
}
