package pbft

import (
	"fmt"
	"slices"

	"github.com/synod-chain/synod/ledger"
)

// Checkpoints (Castro & Liskov 1999 §4.3): every K heights each replica
// signs CHECKPOINT(h, block hash, state root); a quorum of matching ones is
// a stable checkpoint, the log below it is discarded and the window's low
// watermark moves up. This is what keeps memory bounded on an endless chain.

// checkpointsPerPeerMax bounds the CHECKPOINT messages kept per peer: the
// newest ones above the low watermark.
const checkpointsPerPeerMax = 4

// sendCheckpoint signs and sends this replica's CHECKPOINT for the
// committed block with header h.
func (r *Replica) sendCheckpoint(h *ledger.Header) {
	m := r.sign(&Message{Kind: KindCheckpoint, Height: h.Height, Digest: h.Hash(), StateRoot: h.StateRoot})
	r.broadcast(m)
	r.addCheckpoint(m)
}

// tickCheckpoint sends this replica's own CHECKPOINTs above the stable
// checkpoint again once per base timeout while they stay there. Each is
// sent once as its height commits, and a stable checkpoint is what lets
// the window move: if enough of them were lost (before the network
// settled), a network whose window is full commits nothing more, so signs
// no new CHECKPOINT, and a view change carries only the old stable one; it
// would stand still for good. A checkpoint normally turns stable within a
// round trip, so this sends nothing on a healthy network.
func (r *Replica) tickCheckpoint() {
	own := r.checkpoints[r.id]
	if len(own) == 0 {
		r.checkpointTicks = 0
		return
	}
	r.checkpointTicks++
	if r.checkpointTicks < r.base {
		return
	}
	r.checkpointTicks = 0
	for _, m := range own {
		// One signed at a height already stable (a block committed by
		// catch-up below the low watermark) stays until the next stable
		// checkpoint prunes it, and helps nobody.
		if m.Height > r.stable.Height {
			r.broadcast(m)
		}
	}
}

func (r *Replica) stepCheckpoint(m *Message) error {
	if m.Height%r.cfg.Params.CheckpointInterval != 0 {
		return fmt.Errorf("%w: %s at a height that is not a checkpoint", ErrInvalid, m)
	}
	if m.Height > r.stable.Height {
		r.addCheckpoint(m)
		r.checkBehind()
	}
	return nil
}

// checkBehind asks for the blocks up to the highest checkpoint that f+1
// peers report beyond this replica's window: at least one of them is
// correct and committed it, and every fetched block carries its own commit
// certificate, so no quorum is needed to trust the request. Waiting for a
// stable checkpoint instead would let f faulty peers that withhold their
// CHECKPOINTs keep a lagging replica behind for good: its own CHECKPOINT,
// which it cannot sign before it has the blocks, is the one the quorum
// lacks, and messages beyond its window are dropped.
func (r *Replica) checkBehind() {
	var tops []uint64 // each peer's highest checkpoint beyond the window
	for from, q := range r.checkpoints {
		if top := q[len(q)-1].Height; from != r.id && top > r.stable.Height+r.window {
			tops = append(tops, top)
		}
	}
	if len(tops) < r.f+1 {
		return
	}
	slices.Sort(tops)
	to := tops[len(tops)-(r.f+1)]
	var peers []uint16
	for _, from := range r.sortedPeers(r.checkpoints) {
		if q := r.checkpoints[from]; from != r.id && q[len(q)-1].Height >= to {
			peers = append(peers, from)
		}
	}
	r.requestCatchUp(to, peers)
}

func (r *Replica) addCheckpoint(m *Message) {
	q := r.checkpoints[m.From]
	for _, old := range q {
		if old.Height == m.Height {
			if old.Digest != m.Digest || old.StateRoot != m.StateRoot {
				r.conflict(old, m)
			}
			return
		}
	}
	q = append(q, m)
	slices.SortFunc(q, func(a, b *Message) int { return cmpU64(a.Height, b.Height) })
	if len(q) > checkpointsPerPeerMax {
		q = q[len(q)-checkpointsPerPeerMax:]
	}
	r.checkpoints[m.From] = q
	r.checkStable(m.Height)
}

// checkStable makes the checkpoint at h stable if a quorum signed the same
// block and state root.
func (r *Replica) checkStable(h uint64) {
	var first *Message
	var votes []Vote
	for _, from := range r.sortedPeers(r.checkpoints) {
		for _, m := range r.checkpoints[from] {
			if m.Height != h {
				continue
			}
			if first == nil {
				first = r.majorityCheckpoint(h)
			}
			if m.Digest == first.Digest && m.StateRoot == first.StateRoot {
				votes = append(votes, Vote{From: m.From, Signature: m.Signature})
			}
		}
	}
	if len(votes) >= r.q {
		r.adoptCheckpoint(CheckpointProof{Height: h, Digest: first.Digest, StateRoot: first.StateRoot, Votes: votes[:r.q]})
	}
}

// majorityCheckpoint returns the CHECKPOINT at h with the most matching
// signers (so a minority of liars cannot hide the quorum).
func (r *Replica) majorityCheckpoint(h uint64) *Message {
	var best *Message
	bestN := 0
	count := make(map[[2][32]byte]int)
	for _, from := range r.sortedPeers(r.checkpoints) {
		for _, m := range r.checkpoints[from] {
			if m.Height == h {
				k := [2][32]byte{m.Digest, m.StateRoot}
				count[k]++
				if count[k] > bestN {
					best, bestN = m, count[k]
				}
			}
		}
	}
	return best
}

// adoptCheckpoint makes a verified checkpoint proof the stable checkpoint
// if it is higher, discards the log below it, and asks for the blocks up
// to it if this replica has not committed them.
func (r *Replica) adoptCheckpoint(p CheckpointProof) {
	if p.Height <= r.stable.Height {
		return
	}
	if hash, ok := r.committedAt(p.Height); ok && hash != p.Digest {
		r.addEvidence(&Evidence{Kind: EvidenceForkedCheckpoint, Validator: r.id,
			Reason: fmt.Sprintf("quorum checkpoint %s at %d, committed here %s (more than f faulty)", p.Digest.Short(), p.Height, hash.Short())})
		return
	}
	r.stable = p
	r.persist(Record{Kind: RecordCheckpoint, Checkpoint: &p})
	r.event(EventCheckpointStable{Height: p.Height})
	r.pruneBelow(p.Height)
	if r.committed < p.Height {
		peers := make([]uint16, len(p.Votes))
		for i, v := range p.Votes {
			peers[i] = v.From
		}
		r.requestCatchUp(p.Height, peers)
	}
	r.advance(r.committed + 1)
}

// pruneBelow discards everything at or below the new low watermark h.
func (r *Replica) pruneBelow(h uint64) {
	for k := range r.slots {
		if k <= h {
			delete(r.slots, k)
		}
	}
	for k := range r.hashes {
		if k < h {
			delete(r.hashes, k)
		}
	}
	for k := range r.sent {
		if k.height <= h {
			delete(r.sent, k)
		}
	}
	for from, q := range r.checkpoints {
		q = slices.DeleteFunc(q, func(m *Message) bool { return m.Height <= h })
		if len(q) == 0 {
			delete(r.checkpoints, from)
		} else {
			r.checkpoints[from] = q
		}
	}
	r.pruneBlocks()
	r.nextPropose = max(r.nextPropose, h+1)
}

// verifyCheckpoint checks a checkpoint proof: the genesis checkpoint, or a
// quorum of distinct validators' CHECKPOINT signatures.
func (r *Replica) verifyCheckpoint(p *CheckpointProof) error {
	if p.Height == 0 {
		if p.Digest != r.cfg.Genesis || len(p.Votes) != 0 {
			return fmt.Errorf("%w: checkpoint at height 0 is not genesis", ErrInvalid)
		}
		return nil
	}
	if p.Height%r.cfg.Params.CheckpointInterval != 0 {
		return fmt.Errorf("%w: checkpoint at height %d", ErrInvalid, p.Height)
	}
	m := Message{Kind: KindCheckpoint, Height: p.Height, Digest: p.Digest, StateRoot: p.StateRoot}
	return r.verifyVotes(p.Votes, r.q, -1, m.SigningBytes(), "checkpoint")
}

// verifyVotes checks at least need signatures over payload from distinct
// validators in ascending order, none of them exclude.
func (r *Replica) verifyVotes(votes []Vote, need int, exclude int, payload []byte, what string) error {
	if len(votes) < need {
		return fmt.Errorf("%w: %s with %d signatures, need %d", ErrInvalid, what, len(votes), need)
	}
	for i, v := range votes {
		if !r.cfg.Validators.Contains(int(v.From)) || int(v.From) == exclude {
			return fmt.Errorf("%w: %s signed by %d", ErrInvalid, what, v.From)
		}
		if i > 0 && v.From <= votes[i-1].From {
			return fmt.Errorf("%w: %s signers not ascending", ErrInvalid, what)
		}
		if err := r.cfg.Verifier.Verify(v.From, payload, v.Signature); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sortedPeers returns a map's keys in ascending order, so iteration (and
// everything derived from it) is deterministic.
func (r *Replica) sortedPeers(m map[uint16][]*Message) []uint16 {
	ks := make([]uint16, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
