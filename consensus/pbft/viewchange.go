package pbft

import (
	"fmt"
	"slices"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// View changes (Castro & Liskov 1999 §4.4, liveness rules §4.5.2). A
// replica whose timer expires sends VIEW-CHANGE(v+1) with its stable
// checkpoint and its prepared certificates, and stops taking part in view
// v. The primary of v+1 gathers a quorum of them and sends NEW-VIEW, which
// every replica checks by recomputing the selection (selection.go).

// enterView moves to view v, dropping everything that belonged to the old
// view except the prepared certificates.
func (r *Replica) enterView(v uint64) {
	if v <= r.view && !(v == r.view && r.changing) {
		panic(fmt.Sprintf("pbft: replica %d entering view %d from view %d", r.id, v, r.view))
	}
	r.view, r.changing = v, true
	r.newView, r.reproposals = nil, nil
	clear(r.newViewResent)
	r.vcTicks, r.idleTicks, r.vcQuorum = 0, 0, false
	for h, s := range r.slots {
		s.pp, s.block, s.validated, s.prepared, s.committed = nil, nil, false, false, false
		clear(s.prepares)
		clear(s.commits)
		if s.cert == nil {
			delete(r.slots, h)
		}
	}
	for k := range r.sent {
		if k.view < v {
			delete(r.sent, k)
		}
	}
}

// startViewChange sends VIEW-CHANGE(v). The view is persisted in the same
// Ready, ahead of the message, so after a crash the replica never goes
// back to an earlier view.
func (r *Replica) startViewChange(v uint64) {
	if v <= r.view {
		return
	}
	r.enterView(v)
	r.changes++
	r.persist(Record{Kind: RecordView, View: v})
	r.ownVC = r.sign(&Message{Kind: KindViewChange, View: v, ViewChange: r.viewChangeBody()})
	r.viewChanges[r.id] = r.ownVC
	r.broadcast(r.ownVC)
	r.relayBlocks()
	r.event(EventViewChanged{View: v})
	r.checkViewChanges()
}

func (r *Replica) viewChangeBody() *ViewChange {
	vc := &ViewChange{Checkpoint: r.stable}
	for h := r.stable.Height + 1; h <= r.stable.Height+r.window; h++ {
		if s := r.slots[h]; s != nil && s.cert != nil {
			vc.Prepared = append(vc.Prepared, *s.cert)
		}
	}
	return vc
}

// relayBlocks sends the new primary the original PRE-PREPAREs, with their
// blocks, of this replica's prepared certificates: the primary may never
// have received a block that prepared without it.
func (r *Replica) relayBlocks() {
	p := r.primary(r.view)
	if p == r.id {
		return
	}
	for h := r.stable.Height + 1; h <= r.stable.Height+r.window; h++ {
		if s := r.slots[h]; s != nil && s.cert != nil && s.certBlock != nil {
			r.send(p, s.cert.prePrepareOf(r.primary(s.cert.View), s.certBlock))
		}
	}
}

// tickViewChange runs the view-change timer. It runs only while a quorum
// has left the previous views (their latest VIEW-CHANGE is for this view or
// a later one; §4.5.2), so a replica that alone timed out does not race
// ahead through views; until then it repeats its VIEW-CHANGE. Counting
// later views too matters: a peer keeps only its latest VIEW-CHANGE, and
// replicas spread over two views must still be able to move up together.
func (r *Replica) tickViewChange() {
	r.vcTicks++
	if !r.vcQuorum && r.countViewChangesFrom(r.view) >= r.q {
		r.vcQuorum, r.vcTicks = true, 0 // the timer starts now, not when this replica gave up
	}
	if r.vcQuorum && r.vcTicks >= r.timeoutTicks() {
		r.startViewChange(r.view + 1)
		return
	}
	if r.vcTicks%r.base == 0 {
		r.broadcast(r.ownVC)
		r.relayBlocks()
	}
}

func (r *Replica) countViewChanges(v uint64) int {
	n := 0
	for _, m := range r.viewChanges {
		if m.View == v {
			n++
		}
	}
	return n
}

func (r *Replica) countViewChangesFrom(v uint64) int {
	n := 0
	for _, m := range r.viewChanges {
		if m.View >= v {
			n++
		}
	}
	return n
}

func (r *Replica) stepViewChange(m *Message) error {
	if m.View == 0 {
		return fmt.Errorf("%w: VIEW-CHANGE to view 0", ErrInvalid)
	}
	// What the replica would ignore is ignored before the body is checked:
	// the body costs a signature check per vote of every certificate
	// inside (up to W times a quorum), and a stale or repeated VIEW-CHANGE
	// (a replay of a validator's signed message, by anyone) must not buy
	// that work again. The retransmission below needs only the sender,
	// whose signature Step has checked.
	if m.View < r.view || (m.View == r.view && !r.changing) {
		r.resendNewView(m.From)
		return nil
	}
	if old := r.viewChanges[m.From]; old != nil && old.View >= m.View {
		return nil
	}
	if err := r.checkViewChangeBody(m); err != nil {
		return err
	}
	r.viewChanges[m.From] = m
	r.adoptCheckpoint(m.ViewChange.Checkpoint)
	r.checkViewChanges()
	return nil
}

// resendNewView sends peer the NEW-VIEW of the current view again: its
// VIEW-CHANGE for this view or an earlier one says it missed it (§4.5.2
// retransmission). At most once per base timeout per peer, which is how
// often a replica still changing view repeats its VIEW-CHANGE: anyone may
// replay a validator's old signed VIEW-CHANGEs, and each would otherwise
// make every replica send that validator a NEW-VIEW, a message a quorum
// of VIEW-CHANGEs long (two replaying validators, each answering the
// other's replays, grew the simulator's traffic without bound).
func (r *Replica) resendNewView(peer uint16) {
	if r.newView == nil || r.changing {
		return
	}
	if last, ok := r.newViewResent[peer]; ok && r.ticks-last < r.base {
		return
	}
	r.newViewResent[peer] = r.ticks
	r.send(peer, r.newView)
}

// checkViewChanges applies the liveness rules: join the smallest view that
// f+1 others ask for above ours, and send NEW-VIEW as the new primary once
// a quorum asks for our view.
func (r *Replica) checkViewChanges() {
	var higher []uint64
	for from, m := range r.viewChanges {
		if from != r.id && m.View > r.view {
			higher = append(higher, m.View)
		}
	}
	if len(higher) >= r.f+1 {
		slices.Sort(higher)
		r.startViewChange(higher[len(higher)-(r.f+1)])
		return
	}
	if r.changing && r.newView == nil && r.isPrimary() && r.countViewChanges(r.view) >= r.q {
		r.sendNewView()
	}
}

// checkViewChangeBody checks a VIEW-CHANGE: its checkpoint proof and each
// prepared certificate, in ascending heights inside the sender's window.
func (r *Replica) checkViewChangeBody(m *Message) error {
	vc := m.ViewChange
	if err := r.verifyCheckpoint(&vc.Checkpoint); err != nil {
		return fmt.Errorf("%s: %w", m, err)
	}
	prev := vc.Checkpoint.Height
	for i := range vc.Prepared {
		c := &vc.Prepared[i]
		h := c.Height()
		if h <= prev || h > vc.Checkpoint.Height+r.window || c.View >= m.View {
			return fmt.Errorf("%w: %s: certificate at height %d view %d", ErrInvalid, m, h, c.View)
		}
		if err := r.verifyCertificate(c); err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		prev = h
	}
	return nil
}

// verifyCertificate checks a prepared certificate: the PRE-PREPARE of the
// primary of its view and quorum-1 PREPAREs of distinct backups, all for
// the digest of its header.
func (r *Replica) verifyCertificate(c *PreparedCertificate) error {
	primary := r.primary(c.View)
	pp := c.prePrepareOf(primary, nil)
	if err := r.cfg.Verifier.Verify(primary, pp.SigningBytes(), c.PrePrepare); err != nil {
		return fmt.Errorf("prepared certificate pre-prepare: %w", err)
	}
	payload := voteBytes(tagPrepare, c.View, c.Height(), pp.Digest)
	return r.verifyVotes(c.Prepares, r.q-1, int(primary), payload, "prepared certificate")
}

// sendNewView builds, signs and installs NEW-VIEW from a quorum of
// VIEW-CHANGEs for the current view.
func (r *Replica) sendNewView() {
	var vcs []*Message
	for _, from := range r.sortedVCSenders() {
		if m := r.viewChanges[from]; m.View == r.view && len(vcs) < r.q {
			vcs = append(vcs, m)
		}
	}
	cp, sel := selectProposals(vcs, r.window)
	pps := make([]*Message, len(sel))
	for i := range sel {
		pps[i] = r.signVote(&Message{Kind: KindPrePrepare, View: r.view, Height: sel[i].Height(), Digest: sel[i].Header.Hash()})
	}
	nv := r.sign(&Message{Kind: KindNewView, View: r.view, NewView: &NewView{ViewChanges: vcs, PrePrepares: pps}})
	r.broadcast(nv)
	r.install(nv, cp)
}

func (r *Replica) sortedVCSenders() []uint16 {
	ks := make([]uint16, 0, len(r.viewChanges))
	for k := range r.viewChanges {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (r *Replica) stepNewView(m *Message) error {
	if m.From != r.primary(m.View) {
		return fmt.Errorf("%w: %s not from the primary of view %d", ErrInvalid, m, m.View)
	}
	if m.View < r.view || (m.View == r.view && !r.changing) {
		return nil
	}
	cp, err := r.checkNewView(m)
	if err != nil {
		r.addEvidence(&Evidence{Kind: EvidenceBadNewView, Validator: m.From, First: m, Reason: err.Error()})
		if m.View == r.view {
			r.startViewChange(r.view + 1)
		}
		return err
	}
	if m.View > r.view {
		r.enterView(m.View)
	}
	r.install(m, cp)
	return nil
}

// checkNewView verifies every VIEW-CHANGE inside NEW-VIEW and that its
// PRE-PREPAREs are exactly the recomputed selection (§4.4): a faulty new
// primary can neither drop nor alter a prepared block.
func (r *Replica) checkNewView(m *Message) (CheckpointProof, error) {
	nv := m.NewView
	// The shape first, the signatures after: a NEW-VIEW without a quorum
	// of VIEW-CHANGEs (all a faulty primary of a future view can gather)
	// is refused before the certificates inside cost anything.
	seen := make(map[uint16]bool)
	for _, vc := range nv.ViewChanges {
		if vc == nil || vc.Kind != KindViewChange || vc.View != m.View || vc.ViewChange == nil || seen[vc.From] || !r.cfg.Validators.Contains(int(vc.From)) {
			return CheckpointProof{}, fmt.Errorf("%w: %s holds a bad or repeated VIEW-CHANGE", ErrInvalid, m)
		}
		seen[vc.From] = true
	}
	if len(seen) < r.q {
		return CheckpointProof{}, fmt.Errorf("%w: %s with %d VIEW-CHANGEs, need %d", ErrInvalid, m, len(seen), r.q)
	}
	for _, vc := range nv.ViewChanges {
		if err := r.verify(vc); err != nil {
			return CheckpointProof{}, err
		}
		if err := r.checkViewChangeBody(vc); err != nil {
			return CheckpointProof{}, err
		}
	}
	cp, sel := selectProposals(nv.ViewChanges, r.window)
	if len(nv.PrePrepares) != len(sel) {
		return cp, fmt.Errorf("%w: %s re-proposes %d blocks, selection has %d", ErrInvalid, m, len(nv.PrePrepares), len(sel))
	}
	for i, pp := range nv.PrePrepares {
		if pp == nil || pp.Kind != KindPrePrepare || pp.From != m.From || pp.View != m.View || pp.Block != nil ||
			pp.Height != sel[i].Height() || pp.Digest != sel[i].Header.Hash() {
			return cp, fmt.Errorf("%w: %s re-proposal %d differs from the selection", ErrInvalid, m, i)
		}
		if err := r.verify(pp); err != nil {
			return cp, err
		}
	}
	return cp, nil
}

// install makes NEW-VIEW m the current view: the re-proposals become the
// view's pre-prepares, the new primary sends them with their blocks, the
// application drops the blocks of earlier views that were not re-proposed
// (Application.Retain), and buffered messages of the view are replayed.
func (r *Replica) install(m *Message, cp CheckpointProof) {
	r.changing, r.newView, r.idleTicks = false, m, 0
	r.persist(Record{Kind: RecordView, View: r.view, Active: true})
	r.event(EventViewChanged{View: r.view, Active: true})
	r.adoptCheckpoint(cp)
	r.nextPropose = max(cp.Height, r.stable.Height) + 1
	r.learnCommitted(m.NewView.PrePrepares)
	keep := make([]crypto.Hash, len(m.NewView.PrePrepares))
	for i, pp := range m.NewView.PrePrepares {
		keep[i] = pp.Digest
	}
	r.cfg.App.Retain(max(cp.Height, r.committed), keep)
	for _, pp := range m.NewView.PrePrepares {
		if !r.inWindow(pp.Height) {
			continue
		}
		s := r.slot(pp.Height)
		s.pp, s.block = pp, r.blocks[pp.Digest]
		if s.block == nil && s.cert != nil && s.certBlock != nil && s.certBlock.Hash() == pp.Digest {
			s.block = s.certBlock
		}
		r.nextPropose = pp.Height + 1
		if r.isPrimary() {
			if s.block != nil {
				r.broadcast(withBlock(pp, s.block))
			} else {
				r.reproposals = append(r.reproposals, pp)
			}
		}
	}
	r.replayFuture()
	r.advance(r.committed + 1)
	if len(m.NewView.PrePrepares) > 0 {
		r.advance(m.NewView.PrePrepares[0].Height)
	}
}

// learnCommitted recovers the hashes of blocks committed here below the
// head (lost in a restart) from a selection that reaches the head: the
// selection is hash-linked, so if it holds the committed head it holds the
// head's ancestors. Re-voting for them helps the others commit them.
func (r *Replica) learnCommitted(pps []*Message) {
	for _, pp := range pps {
		if pp.Height == r.committed && pp.Digest == r.committedHash {
			for _, q := range pps {
				if q.Height < r.committed {
					r.hashes[q.Height] = q.Digest
				}
			}
			return
		}
	}
}

func withBlock(pp *Message, b *ledger.Block) *Message {
	c := *pp
	c.Block = b
	return &c
}

// offerBlock attaches a block that arrived late to the slot waiting for it,
// and lets the new primary send a re-proposal it lacked the block for.
func (r *Replica) offerBlock(b *ledger.Block) {
	d := b.Hash()
	if r.isPrimary() && !r.changing && len(r.reproposals) > 0 {
		keep := r.reproposals[:0]
		for _, pp := range r.reproposals {
			if pp.Digest == d {
				r.broadcast(withBlock(pp, b))
			} else {
				keep = append(keep, pp)
			}
		}
		r.reproposals = keep
	}
	if s := r.slots[b.Header.Height]; s != nil && s.pp != nil && s.block == nil && s.pp.Digest == d {
		s.block = b
		r.advance(s.height)
	}
}

// replayFuture steps the buffered messages of views up to the current one.
func (r *Replica) replayFuture() {
	for _, from := range r.sortedPeers(r.future) {
		q := r.future[from]
		delete(r.future, from)
		delete(r.futureBytes, from)
		var keep []*Message
		bytes := 0
		for _, m := range q {
			if m.View > r.view {
				keep = append(keep, m)
				bytes += blockBytes(m)
			}
		}
		if len(keep) > 0 {
			r.future[from], r.futureBytes[from] = keep, bytes
		}
		for _, m := range q {
			if m.View == r.view {
				r.dispatchNormal(m)
			}
		}
	}
}

func (r *Replica) dispatchNormal(m *Message) {
	switch m.Kind {
	case KindPrePrepare:
		_ = r.stepPrePrepare(m)
	case KindPrepare:
		_ = r.stepPrepare(m)
	case KindCommit:
		_ = r.stepCommit(m)
	default:
		panic(fmt.Sprintf("pbft: %s in the future buffer", m))
	}
}
