package pbft

import (
	"errors"
	"fmt"
	"slices"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// The normal case (Castro & Liskov 1999 §4.2): the primary pre-prepares a
// block at the next height, backups validate it and PREPARE, a replica that
// holds a prepared certificate COMMITs, and a quorum of COMMITs commits.
// Blocks are hash-linked and several heights are in flight inside the
// window; they execute strictly in height order.

// tryPropose makes the primary pre-prepare the next height when it has
// room in the window and knows the parent block.
func (r *Replica) tryPropose() {
	if r.changing || !r.isPrimary() {
		return
	}
	h := max(r.nextPropose, r.committed+1)
	if !r.inWindow(h) {
		return
	}
	if _, signed := r.sent[sentKey{r.view, h, KindPrePrepare}]; signed {
		return // pre-prepared before a restart, block lost: wait for the next view
	}
	if r.cfg.EmptyBlockTicks > 0 && r.proposalTicks < r.cfg.EmptyBlockTicks {
		if idler, ok := r.cfg.App.(Idler); ok && idler.Idle() {
			return // nothing to order yet: an empty block can wait
		}
	}
	parent := r.committedHash
	if h-1 > r.committed {
		p := r.slots[h-1]
		if p == nil || p.pp == nil || !p.validated {
			return
		}
		parent = p.pp.Digest
	}
	proposer := r.cfg.Validators.At(int(r.id)).Address()
	b, err := r.cfg.App.Build(parent, r.view, proposer, r.now)
	if errors.Is(err, ledger.ErrLocalState) {
		r.localFault(fmt.Errorf("build block %d: %w", h, err))
		return
	}
	if err != nil {
		return // the application cannot build now; the next Tick tries again
	}
	if b.Header.Height != h || b.Header.ParentHash != parent {
		panic(fmt.Sprintf("pbft: application built height %d on %s, asked for %d on %s",
			b.Header.Height, b.Header.ParentHash.Short(), h, parent.Short()))
	}
	m := r.signVote(&Message{Kind: KindPrePrepare, View: r.view, Height: h, Digest: b.Hash(), Block: b})
	r.broadcast(m)
	s := r.slot(h)
	s.pp, s.block, s.validated = m, b, true
	r.keepBlock(b)
	r.nextPropose = h + 1
	r.proposalTicks = 0
	r.advance(h)
}

// ProposeNow lets the primary pre-prepare at once, between ticks, when it
// has no proposal in flight: the node calls it when transactions arrive
// and after a commit, so on a quiet network a transaction does not wait
// for the next tick. With proposals in flight it does nothing: under load
// the pipeline and the tick set the pace, and blocks stay large. now is
// the node's clock, as for Tick.
func (r *Replica) ProposeNow(now int64) {
	if r.fault != nil || r.changing || !r.isPrimary() || r.nextPropose > r.committed+1 {
		return
	}
	r.now = max(r.now, now)
	r.tryPropose()
}

// stepPrePrepare accepts a proposal from the primary of the current view.
func (r *Replica) stepPrePrepare(m *Message) error {
	if m.From != r.primary(m.View) {
		return fmt.Errorf("%w: %s not from the primary of view %d", ErrInvalid, m, m.View)
	}
	if m.Block != nil && m.Block.Hash() != m.Digest {
		return fmt.Errorf("%w: %s carries a block with hash %s", ErrInvalid, m, m.Block.Hash().Short())
	}
	if m.Block != nil && r.inWindow(m.Height) && m.Block.Header.Height == m.Height {
		// Blocks of earlier views are kept too: a replica relays the
		// blocks it prepared to the new primary when it changes view.
		r.keepBlock(m.Block)
		r.offerBlock(m.Block)
	}
	if m.From == r.id || r.early(m) || m.View < r.view || !r.inWindow(m.Height) {
		return nil
	}
	s := r.slot(m.Height)
	if s.pp != nil {
		if s.pp.Digest != m.Digest {
			r.conflict(s.pp, m)
		} else if s.block == nil && m.Block != nil {
			s.block = m.Block
			r.advance(m.Height)
		}
		return nil
	}
	if m.Block == nil {
		return nil // digest-only PRE-PREPAREs count only inside NEW-VIEW
	}
	if err := r.checkProposalHeader(m); err != nil {
		r.invalidProposal(m, err)
		return err
	}
	s.pp, s.block = m, m.Block
	r.advance(m.Height)
	return nil
}

// checkProposalHeader checks what the engine itself vouches for in a fresh
// proposal: the height, the view, and that the proposer is the primary.
func (r *Replica) checkProposalHeader(m *Message) error {
	h := &m.Block.Header
	want := r.cfg.Validators.At(int(r.primary(m.View))).Address()
	switch {
	case h.Height != m.Height:
		return fmt.Errorf("%w: %s: block height %d", ErrInvalid, m, h.Height)
	case h.View != m.View:
		return fmt.Errorf("%w: %s: block of view %d", ErrInvalid, m, h.View)
	case h.Proposer != want:
		return fmt.Errorf("%w: %s: proposer %s is not the primary %s", ErrInvalid, m, h.Proposer, want)
	}
	return nil
}

// early buffers a normal-case message for a view this replica has not
// installed yet and reports whether it did.
func (r *Replica) early(m *Message) bool {
	if m.View < r.view || (m.View == r.view && !r.changing) {
		return false
	}
	q := append(r.future[m.From], m)
	bytes := r.futureBytes[m.From] + blockBytes(m)
	for len(q) > r.cfg.FutureMessagesPerPeerMax || bytes > r.cfg.FutureBytesPerPeerMax {
		bytes -= blockBytes(q[0]) // the oldest goes
		q[0], q = nil, q[1:]
	}
	r.future[m.From], r.futureBytes[m.From] = q, bytes
	return true
}

// blockBytes is the encoded size of the block a message carries, 0 if none.
func blockBytes(m *Message) int {
	if m.Block == nil {
		return 0
	}
	return m.Block.EncodedSize()
}

func (r *Replica) stepPrepare(m *Message) error {
	if m.From == r.primary(m.View) {
		return fmt.Errorf("%w: %s from the primary", ErrInvalid, m)
	}
	return r.stepVote(m, func(s *slot) map[uint16]*Message { return s.prepares })
}

func (r *Replica) stepCommit(m *Message) error {
	return r.stepVote(m, func(s *slot) map[uint16]*Message { return s.commits })
}

// stepVote records a PREPARE or COMMIT of the current view. A second vote
// for another digest at the same (view, height, kind) is evidence.
func (r *Replica) stepVote(m *Message, votes func(*slot) map[uint16]*Message) error {
	if r.early(m) || m.View < r.view || !r.inWindow(m.Height) {
		return nil
	}
	s := r.slot(m.Height)
	vs := votes(s)
	if old, ok := vs[m.From]; ok {
		if old.Digest != m.Digest {
			r.conflict(old, m)
		}
		return nil
	}
	vs[m.From] = m
	r.advance(m.Height)
	return nil
}

// advance moves slots forward from height h while each one is prepared in
// the current view, since a prepared block lets its child be prepared.
func (r *Replica) advance(h uint64) {
	for r.inWindow(h) && r.advanceSlot(h) {
		h++
	}
}

// advanceSlot moves the slot at h as far as it can go and reports whether
// it is prepared in the current view.
func (r *Replica) advanceSlot(h uint64) bool {
	s := r.slots[h]
	if r.changing || s == nil || s.pp == nil || s.block == nil {
		return false
	}
	if !r.parentReady(s) {
		return false // the hash-chaining rule: buffered until the parent prepares
	}
	if !s.validated && !r.validate(s) {
		return false
	}
	if !r.isPrimary() && s.prepares[r.id] == nil && r.canSign(r.view, h, KindPrepare, s.pp.Digest) {
		m := r.signVote(&Message{Kind: KindPrepare, View: r.view, Height: h, Digest: s.pp.Digest})
		s.prepares[r.id] = m
		r.broadcast(m)
	}
	if !s.prepared && !r.makePrepared(s) {
		return false
	}
	r.checkCommitted(s)
	return true
}

// parentReady is the rule that keeps view changes safe with hash chaining:
// a replica votes for the block at h only when its parent is the block
// committed at h-1 or holds a prepared certificate in this view. Then a
// block committed at h has f+1 correct replicas holding prepared
// certificates of the same view for all its uncommitted ancestors, so every
// view-change quorum reports them (see selection.go).
func (r *Replica) parentReady(s *slot) bool {
	h := s.height
	if hash, ok := r.committedAt(h); ok {
		return hash == s.pp.Digest // re-voting for a block committed here helps others commit it
	}
	if h == r.committed+1 {
		return s.block.Header.ParentHash == r.committedHash
	}
	p := r.slots[h-1]
	return p != nil && p.prepared && p.pp.Digest == s.block.Header.ParentHash
}

// validate asks the application to check the block fully. Only an error
// about the block blames its proposer: an unknown parent is waited for, a
// full pending chain is waited out (waitForRoom), and a failure of this
// node's own state halts the replica (localFault).
func (r *Replica) validate(s *slot) bool {
	if _, ok := r.committedAt(s.height); ok {
		s.validated = true
		return true
	}
	if r.fault != nil {
		return false // halted earlier in this same step: ask the application nothing more
	}
	err := r.cfg.App.Validate(s.block)
	switch {
	case errors.Is(err, ledger.ErrUnknownParent):
		return false
	case errors.Is(err, ledger.ErrLocalState):
		r.localFault(fmt.Errorf("validate %s: %w", s.pp, err))
		return false
	case errors.Is(err, ledger.ErrPendingChainFull):
		r.waitForRoom(s.height)
		return false
	case err != nil:
		r.invalidProposal(s.pp, err)
		return false
	}
	s.validated = true
	return true
}

// waitForRoom remembers that the block at h is unchecked because this
// node keeps too many pending blocks: a limit of this replica, which says
// nothing about the block or its proposer, so no vote, no evidence and no
// view change on its account (the idle timer runs on, as for any height
// that does not commit, and ends a wait that lasts). The slot keeps the block unvalidated, as for an unknown
// parent. Commits make room (PendingChain.Commit prunes), but the node
// applies them only after this step returns, so Tick asks again
// (retryRoom); a vote for h arriving meanwhile asks again too. If this
// replica's pending blocks all lie on forks the network abandoned, no
// commit of its own can prune them: the block committed at h then comes
// by catch-up, and its certificate makes room (DeliverCommitted).
func (r *Replica) waitForRoom(h uint64) {
	if r.roomWait == 0 || h < r.roomWait {
		r.roomWait = h
	}
}

// retryRoom validates again, from the lowest height that waited for room,
// the blocks the application had no room for; one that still finds none
// waits for the next Tick. roomWait may name a height settled since (its
// block validated on a vote, or committed by catch-up) while a higher one
// waits: the walk then starts at the first height not committed, since
// the slot of a committed height may be gone (below the low watermark)
// or unprepared in this view, and the walk would stop there, never
// reaching the height that waits. Every slot between the committed head
// and a height that waits is prepared in this view (parentReady), so the
// walk reaches it.
func (r *Replica) retryRoom() {
	h := r.roomWait
	if h == 0 {
		return
	}
	r.roomWait = 0
	r.advance(max(h, r.committed+1))
}

// makePrepared turns quorum-1 matching PREPAREs and the PRE-PREPARE into a
// prepared certificate, persists it and sends COMMIT (§4.2).
func (r *Replica) makePrepared(s *slot) bool {
	primary := r.primary(r.view)
	var votes []Vote
	for from, m := range s.prepares {
		if from != primary && m.Digest == s.pp.Digest {
			votes = append(votes, Vote{From: from, Signature: m.Signature})
		}
	}
	if len(votes) < r.q-1 {
		return false
	}
	slices.SortFunc(votes, func(a, b Vote) int { return int(a.From) - int(b.From) })
	cert := &PreparedCertificate{View: r.view, Header: s.block.Header, PrePrepare: s.pp.Signature, Prepares: votes[:r.q-1]}
	s.prepared = true
	s.cert, s.certBlock = cert, s.block
	r.persist(Record{Kind: RecordPrepared, Prepared: cert, Block: s.block})
	if s.commits[r.id] == nil && r.canSign(r.view, s.height, KindCommit, s.pp.Digest) {
		m := r.signVote(&Message{Kind: KindCommit, View: r.view, Height: s.height, Digest: s.pp.Digest})
		s.commits[r.id] = m
		r.broadcast(m)
	}
	return true
}

// checkCommitted marks the slot committed-local at a quorum of matching
// COMMITs and executes what is ready.
func (r *Replica) checkCommitted(s *slot) {
	if s.committed || !s.prepared {
		return
	}
	n := 0
	for _, m := range s.commits {
		if m.Digest == s.pp.Digest {
			n++
		}
	}
	if n >= r.q {
		s.committed = true
		r.execute()
	}
}

// execute commits every committed-local block that extends the committed
// chain, strictly in height order.
func (r *Replica) execute() {
	for {
		s := r.slots[r.committed+1]
		if s == nil || !s.committed {
			return
		}
		if s.block.Header.ParentHash != r.committedHash {
			panic(fmt.Sprintf("pbft: replica %d committed %s at %d, not a child of %s",
				r.id, s.pp.Digest.Short(), s.height, r.committedHash.Short()))
		}
		r.commit(s.block, r.commitCertificate(s))
		r.advance(r.committed + 1)
	}
}

func (r *Replica) commitCertificate(s *slot) *ledger.CommitCertificate {
	c := &ledger.CommitCertificate{Height: s.height, View: r.view, BlockHash: s.pp.Digest}
	for from, m := range s.commits {
		if m.Digest == s.pp.Digest {
			c.Signatures = append(c.Signatures, ledger.CommitSignature{Validator: from, Signature: m.Signature})
		}
	}
	slices.SortFunc(c.Signatures, func(a, b ledger.CommitSignature) int { return int(a.Validator) - int(b.Validator) })
	c.Signatures = c.Signatures[:r.q]
	return c
}

// commit hands block b out as committed and moves the committed head.
func (r *Replica) commit(b *ledger.Block, cert *ledger.CommitCertificate) {
	h := b.Header.Height
	r.out.Committed = append(r.out.Committed, CommittedBlock{Block: b, Certificate: cert})
	r.committed, r.committedHash = h, b.Hash()
	r.hashes[h] = r.committedHash
	delete(r.hashes, h-min(h, 2*r.window))
	r.progress()
	if h%r.cfg.Params.CheckpointInterval == 0 {
		r.sendCheckpoint(&b.Header)
	}
}

// committedAt returns the hash of the block committed here at h.
func (r *Replica) committedAt(h uint64) (crypto.Hash, bool) {
	if h > r.committed {
		return crypto.Hash{}, false
	}
	if h == r.committed {
		return r.committedHash, true
	}
	hash, ok := r.hashes[h]
	return hash, ok
}

// keepBlock remembers a proposal in the window, bounded per height.
func (r *Replica) keepBlock(b *ledger.Block) {
	if !r.inWindow(b.Header.Height) {
		return
	}
	r.blocks[b.Hash()] = b
	if len(r.blocks) > blocksPerHeightMax*int(r.window) {
		r.pruneBlocks()
	}
}

// blocksPerHeightMax bounds the distinct proposals kept per height: a
// Byzantine primary can equivocate, but each view has one primary and
// stale views are pruned.
const blocksPerHeightMax = 4

// pruneBlocks drops blocks outside the window, then, if still too many,
// those no slot refers to (nor, during a view change, a VIEW-CHANGE for
// the coming view).
func (r *Replica) pruneBlocks() {
	for d, b := range r.blocks {
		if !r.inWindow(b.Header.Height) {
			delete(r.blocks, d)
		}
	}
	if len(r.blocks) <= blocksPerHeightMax*int(r.window) {
		return
	}
	used := make(map[crypto.Hash]bool)
	for _, s := range r.slots {
		if s.block != nil {
			used[s.block.Hash()] = true
		}
		if s.certBlock != nil {
			used[s.certBlock.Hash()] = true
		}
	}
	if r.changing {
		// The NEW-VIEW to come re-proposes blocks certified in these
		// VIEW-CHANGEs, and their holders stop relaying them once it is
		// installed: a flood of junk proposals must not push them out.
		for _, m := range r.viewChanges {
			if m.View == r.view {
				for i := range m.ViewChange.Prepared {
					used[m.ViewChange.Prepared[i].Header.Hash()] = true
				}
			}
		}
	}
	for d := range r.blocks {
		if !used[d] {
			delete(r.blocks, d)
		}
	}
}
