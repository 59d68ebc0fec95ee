package pbft_test

import (
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// proposeOnlyPreparedAt makes primary 0 propose height 1 (block B), lets
// only replica only collect PREPAREs (so it alone is prepared), drops every
// COMMIT, then silences replica 0 for good. It returns B's hash.
func proposeOnlyPreparedAt(t *testing.T, c *cluster, only int) crypto.Hash {
	t.Helper()
	c.drop = func(e envelope) bool {
		return e.m.Kind == pbft.KindCommit || (e.m.Kind == pbft.KindPrepare && e.to != only)
	}
	c.reps[0].Tick(c.genesis.Header.Timestamp + 10)
	c.flush(0)
	c.outgoing[0] = func(pbft.Outbound) []pbft.Outbound { return nil }
	c.deliver()
	c.drop = nil
	var b crypto.Hash
	for _, r := range c.records[only] {
		if r.Kind == pbft.RecordPrepared && r.Prepared.Height() == 1 {
			b = r.Prepared.Header.Hash()
		}
	}
	if b.IsZero() {
		t.Fatalf("replica %d did not prepare height 1", only)
	}
	for i := 1; i < c.n; i++ {
		if len(c.logs[i]) != 0 {
			t.Fatalf("replica %d committed before the view change", i)
		}
	}
	return b
}

// TestPaperViewChangeKeepsValuePreparedAtOneReplica checks §4.4's hard case: a block prepared at a single correct replica (not the new primary) before the primary fails is selected by NEW-VIEW and commits at the same height in view 1.
func TestPaperViewChangeKeepsValuePreparedAtOneReplica(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	b := proposeOnlyPreparedAt(t, c, 2)
	c.tickUntil(200, c.allCommitted(1, 1, 2, 3))
	for i := 1; i < 4; i++ {
		got := c.committedAt(i, 1)
		if got.Block.Hash() != b || got.Certificate.View != 1 {
			t.Fatalf("replica %d: height 1 is %s in view %d, want %s (prepared at replica 2 only) in view 1",
				i, got.Block.Hash().Short(), got.Certificate.View, b.Short())
		}
		if v, active := c.reps[i].View(); v != 1 || !active {
			t.Fatalf("replica %d in view %d active=%v, want 1", i, v, active)
		}
	}
	c.tickUntil(100, c.allCommitted(5, 1, 2, 3))
	if p := c.committedAt(3, 2).Block.Header; p.View != 1 || p.Proposer != c.vals.At(1).Address() {
		t.Fatalf("height 2 from view %d proposer %s, want a fresh block of view 1 by validator 1", p.View, p.Proposer)
	}
}

// TestPaperTwoConsecutiveViewChanges checks §4.4/§4.5.2 with a silent new primary: primary 0 fails after its block prepared at replica 3 only, primary 1 of view 1 is silent, so the replicas time out again (doubled timeout) and the block commits at height 1 in view 2.
func TestPaperTwoConsecutiveViewChanges(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 7})
	c.outgoing[1] = func(pbft.Outbound) []pbft.Outbound { return nil }
	b := proposeOnlyPreparedAt(t, c, 3)
	c.tickUntil(400, c.allCommitted(1, 2, 3, 4, 5, 6))
	for i := 2; i < 7; i++ {
		got := c.committedAt(i, 1)
		if got.Block.Hash() != b || got.Certificate.View != 2 {
			t.Fatalf("replica %d: height 1 is %s in view %d, want %s in view 2", i, got.Block.Hash().Short(), got.Certificate.View, b.Short())
		}
		if !hasEvent(c.events[i], func(e pbft.EventViewChanged) bool { return e.View == 1 && !e.Active }) {
			t.Fatalf("replica %d never asked for view 1", i)
		}
	}
}

// TestPaperViewChangeTimeoutDoublesUntilProgress checks §4.5.2's timer rule: with the primaries of views 0 and 1 silent, a replica waits the base timeout before asking for view 1 and twice that before asking for view 2; once view 2 commits, the timeout is back to the base, so when primary 2 falls silent too, view 3 is asked for after the base timeout again.
func TestPaperViewChangeTimeoutDoublesUntilProgress(t *testing.T) {
	const base = 10
	c := newCluster(t, clusterOpts{n: 7, timeoutT: base})
	silent := func(pbft.Outbound) []pbft.Outbound { return nil }
	c.outgoing[0], c.outgoing[1] = silent, silent
	asked := map[uint64]int{} // view -> tick replica 3 asked for it
	tick := 0
	tickUntil := func(limit int, cond func() bool) {
		t.Helper()
		for ; !cond(); tick++ {
			if limit--; limit < 0 {
				t.Fatalf("condition not reached by tick %d", tick)
			}
			c.tick()
			for _, e := range c.events[3] {
				if vc, ok := e.(pbft.EventViewChanged); ok && !vc.Active && asked[vc.View] == 0 {
					asked[vc.View] = tick
				}
			}
		}
	}
	tickUntil(400, c.allCommitted(2, 2, 3, 4, 5, 6))
	if first, second := asked[1], asked[2]-asked[1]; first < base-1 || second < 2*base-1 {
		t.Fatalf("asked for view 1 after %d ticks and for view 2 %d ticks later, want about %d and %d", first, second, base, 2*base)
	}
	c.outgoing[2] = silent
	start := tick
	tickUntil(400, func() bool { return asked[3] != 0 })
	if waited := asked[3] - start; waited > base+2 {
		t.Fatalf("after view 2 committed, asked for view 3 after %d ticks, want the base timeout of %d", waited, base)
	}
}

// TestFaultyNewPrimaryBadNewViewIsRejected checks that a Byzantine new primary cannot drop a prepared block: its NEW-VIEW without the re-proposal is rejected by recomputing the selection, kept as evidence, and the next view commits the block.
func TestFaultyNewPrimaryBadNewViewIsRejected(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 7})
	c.outgoing[1] = func(o pbft.Outbound) []pbft.Outbound {
		if o.Msg.Kind == pbft.KindNewView {
			nv := *o.Msg.NewView
			nv.PrePrepares = nil
			o.Msg = c.resign(1, &pbft.Message{Kind: pbft.KindNewView, View: o.Msg.View, NewView: &nv})
		}
		return []pbft.Outbound{o}
	}
	b := proposeOnlyPreparedAt(t, c, 4)
	c.tickUntil(400, c.allCommitted(1, 2, 3, 4, 5, 6))
	for i := 2; i < 7; i++ {
		got := c.committedAt(i, 1)
		if got.Block.Hash() != b || got.Certificate.View != 2 {
			t.Fatalf("replica %d: height 1 is %s in view %d, want %s in view 2", i, got.Block.Hash().Short(), got.Certificate.View, b.Short())
		}
		found := false
		for _, e := range c.reps[i].Evidence() {
			if e.Kind == pbft.EvidenceBadNewView && e.Validator == 1 && e.Verify(c.verif) == nil {
				found = true
			}
		}
		if !found {
			t.Fatalf("replica %d kept no verifiable evidence of the bad NEW-VIEW", i)
		}
	}
}

// TestFaultyNewPrimaryCannotSwapReproposedBlock checks that a Byzantine new primary cannot replace a prepared block by another at the same height: its NEW-VIEW re-proposing a block of its own, signed and of the right count, differs from the recomputed selection and is rejected with evidence, and the prepared block commits in the next view.
func TestFaultyNewPrimaryCannotSwapReproposedBlock(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 7})
	var alt *ledger.Block
	c.outgoing[1] = func(o pbft.Outbound) []pbft.Outbound {
		if o.Msg.Kind != pbft.KindNewView || len(o.Msg.NewView.PrePrepares) == 0 {
			return []pbft.Outbound{o}
		}
		pp := o.Msg.NewView.PrePrepares[0]
		var err error
		alt, err = c.chains[1].Build(c.genesis.Hash(), pp.View, c.vals.At(1).Address(), c.genesis.Header.Timestamp+99, nil)
		if err != nil {
			t.Fatal(err)
		}
		nv := *o.Msg.NewView
		nv.PrePrepares = append([]*pbft.Message{c.resign(1, &pbft.Message{Kind: pbft.KindPrePrepare, View: pp.View, Height: pp.Height, Digest: alt.Hash()})}, nv.PrePrepares[1:]...)
		swapped := c.resign(1, &pbft.Message{Kind: pbft.KindNewView, View: o.Msg.View, NewView: &nv})
		block := c.resign(1, &pbft.Message{Kind: pbft.KindPrePrepare, View: pp.View, Height: pp.Height, Digest: alt.Hash(), Block: alt})
		return []pbft.Outbound{{To: o.To, Msg: swapped}, {To: pbft.Broadcast, Msg: block}}
	}
	b := proposeOnlyPreparedAt(t, c, 4)
	c.tickUntil(400, c.allCommitted(1, 2, 3, 4, 5, 6))
	if alt == nil || alt.Hash() == b {
		t.Fatal("the faulty primary never swapped the re-proposal")
	}
	for i := 2; i < 7; i++ {
		if got := c.committedAt(i, 1); got.Block.Hash() != b {
			t.Fatalf("replica %d: height 1 is %s in view %d, want %s (prepared before the view change)", i, got.Block.Hash().Short(), got.Certificate.View, b.Short())
		}
		found := false
		for _, e := range c.reps[i].Evidence() {
			if e.Kind == pbft.EvidenceBadNewView && e.Validator == 1 && e.Verify(c.verif) == nil {
				found = true
			}
		}
		if !found {
			t.Fatalf("replica %d kept no verifiable evidence of the swapped NEW-VIEW", i)
		}
	}
}

// TestPaperHigherViewCertificateWins checks §4.4's rule that NEW-VIEW picks, at each height, the prepared certificate of the highest view: block A prepares at replica 2 only in view 0; view 1 forms without replica 2 and commits another block B at replica 3 only; the quorum of view 2 holds both certificates, and B, committed, must win over the older A.
func TestPaperHigherViewCertificateWins(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	normal := func(k pbft.Kind) bool {
		return k == pbft.KindPrePrepare || k == pbft.KindPrepare || k == pbft.KindCommit
	}
	phase := 0
	c.drop = func(e envelope) bool {
		m := e.m
		switch {
		case phase == 0: // view 0: A prepares at replica 2 only
			return m.Kind == pbft.KindCommit || (m.Kind == pbft.KindPrepare && e.to != 2)
		case normal(m.Kind) && m.View < uint64(phase):
			return true // the earlier views are over
		case phase == 1: // view 1 forms without replica 2; B commits at replica 3 only
			return (m.Kind == pbft.KindViewChange && e.from == 2 && e.to == 1) ||
				(normal(m.Kind) && e.to == 2) || (m.Kind == pbft.KindCommit && e.to != 3)
		}
		return false
	}
	c.reps[0].Tick(c.genesis.Header.Timestamp + 10)
	c.flush(0)
	c.deliver()
	var a crypto.Hash
	for _, r := range c.records[2] {
		if r.Kind == pbft.RecordPrepared && r.Prepared.Height() == 1 {
			a = r.Prepared.Header.Hash()
		}
	}
	if a.IsZero() {
		t.Fatal("replica 2 did not prepare height 1 in view 0")
	}
	phase = 1
	c.tickUntil(400, c.allCommitted(1, 3))
	b := c.committedAt(3, 1)
	if b.Certificate.View != 1 || b.Block.Hash() == a {
		t.Fatalf("replica 3 committed %s in view %d, want a block other than A in view 1", b.Block.Hash().Short(), b.Certificate.View)
	}
	for i := range 3 {
		if len(c.logs[i]) != 0 {
			t.Fatalf("replica %d committed in view 1", i)
		}
	}
	phase = 2
	c.tickUntil(400, c.allCommitted(1, 0, 1, 2))
	for i := range 4 {
		if got := c.committedAt(i, 1); got.Block.Hash() != b.Block.Hash() {
			t.Fatalf("replica %d: height 1 is %s in view %d, want %s committed at replica 3 in view 1 (A of view 0 is %s)",
				i, got.Block.Hash().Short(), got.Certificate.View, b.Block.Hash().Short(), a.Short())
		}
	}
}

// TestJunkBlocksCannotEvictBlockToRepropose: a faulty replica, primary of
// views far ahead, floods the others with PRE-PREPAREs of junk blocks just
// before the NEW-VIEW of view 1, which must re-propose a block prepared at
// replica 2 only. The flood must not push that block out of what the new
// primary and the backups keep, or view 1 stalls for lack of it and the
// block waits for a view whose primary holds its certificate.
func TestJunkBlocksCannotEvictBlockToRepropose(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 7})
	b := proposeOnlyPreparedAt(t, c, 2)
	relayed, flooded := false, false
	c.drop = func(e envelope) bool {
		if e.to == 1 && e.from == 2 && e.m.Kind == pbft.KindPrePrepare && e.m.Block != nil {
			relayed = true // replica 2 relays the block to the new primary
		}
		if e.to == 1 && relayed && !flooded && e.m.Kind == pbft.KindViewChange {
			flooded = true
			for i := range 40 {
				h := uint64(1 + i%8)
				junk := &ledger.Block{Header: ledger.Header{ChainID: c.chainID, Height: h, View: 6, Timestamp: int64(i)}}
				m := c.resign(6, &pbft.Message{Kind: pbft.KindPrePrepare, View: 6, Height: h, Digest: junk.Hash(), Block: junk})
				for _, j := range []int{0, 1, 3, 4, 5} {
					_ = c.reps[j].Step(m)
					c.flush(j)
				}
			}
		}
		return false
	}
	c.tickUntil(400, c.allCommitted(1, 1, 2, 3, 4, 5))
	if !flooded {
		t.Fatal("the flood was never sent")
	}
	for i := 1; i < 6; i++ {
		got := c.committedAt(i, 1)
		if got.Block.Hash() != b || got.Certificate.View != 1 {
			t.Fatalf("replica %d: height 1 is %s in view %d, want %s in view 1", i, got.Block.Hash().Short(), got.Certificate.View, b.Short())
		}
	}
}

// countingVerifier counts the signatures it checks.
type countingVerifier struct {
	pbft.Verifier
	n *int
}

func (v countingVerifier) Verify(validator uint16, payload []byte, sig crypto.Signature) error {
	*v.n++
	return v.Verifier.Verify(validator, payload, sig)
}

// TestNewViewWithoutQuorumRefusedBeforeVerifyingViewChanges: a faulty
// replica is primary of infinitely many future views and can send NEW-VIEWs
// for them holding only faulty replicas' VIEW-CHANGEs, each stuffed with
// real prepared certificates. Such a NEW-VIEW cannot hold a quorum of
// VIEW-CHANGEs for its view, and that must be found before checking the
// signatures of every certificate inside (f*W*quorum of them at most).
func TestNewViewWithoutQuorumRefusedBeforeVerifyingViewChanges(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, k: 8, w: 16})
	c.tickUntil(50, c.allCommitted(6, 0, 1, 2, 3))
	certs := preparedCertificates(t, c, 3, 6)
	const view = 7 // primary 3
	vc := c.resign(3, &pbft.Message{Kind: pbft.KindViewChange, View: view, ViewChange: &pbft.ViewChange{
		Checkpoint: pbft.CheckpointProof{Height: 0, Digest: c.genesis.Hash()}, Prepared: certs}})
	nv := c.resign(3, &pbft.Message{Kind: pbft.KindNewView, View: view, NewView: &pbft.NewView{ViewChanges: []*pbft.Message{vc}}})
	n := 0
	c.verif = countingVerifier{Verifier: c.verif, n: &n}
	c.start(1, 10)
	n = 0
	if err := c.reps[1].Step(nv); err == nil {
		t.Fatal("NEW-VIEW with one VIEW-CHANGE accepted")
	}
	if n > 1 {
		t.Fatalf("checked %d signatures of a NEW-VIEW without a quorum of VIEW-CHANGEs, want only its own", n)
	}
}

// TestRepeatedViewChangeNotVerifiedAgain: anyone can replay a validator's
// signed VIEW-CHANGE, and each one holds up to W prepared certificates of
// a quorum of votes. A copy of one the replica already holds, or one for a
// view it has left, must cost only the check of its own signature.
func TestRepeatedViewChangeNotVerifiedAgain(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, k: 8, w: 16})
	c.tickUntil(50, c.allCommitted(6, 0, 1, 2, 3))
	certs := preparedCertificates(t, c, 3, 6)
	vc := c.resign(3, &pbft.Message{Kind: pbft.KindViewChange, View: 1, ViewChange: &pbft.ViewChange{
		Checkpoint: pbft.CheckpointProof{Height: 0, Digest: c.genesis.Hash()}, Prepared: certs}})
	n := 0
	c.verif = countingVerifier{Verifier: c.verif, n: &n}
	c.start(1, 10)
	if err := c.reps[1].Step(vc); err != nil {
		t.Fatalf("first VIEW-CHANGE: %v", err)
	}
	if n < 1+len(certs)*3 {
		t.Fatalf("first VIEW-CHANGE: %d signatures checked, want its certificates' too", n)
	}
	for range 3 {
		n = 0
		if err := c.reps[1].Step(vc); err != nil {
			t.Fatalf("repeated VIEW-CHANGE: %v", err)
		}
		if n != 1 {
			t.Fatalf("repeated VIEW-CHANGE: %d signatures checked, want only its own", n)
		}
	}
}

// preparedCertificates returns the prepared certificates replica i
// recorded for heights 1..top, one per height.
func preparedCertificates(t *testing.T, c *cluster, i int, top uint64) []pbft.PreparedCertificate {
	t.Helper()
	var certs []pbft.PreparedCertificate
	for _, rec := range c.records[i] {
		if rec.Kind == pbft.RecordPrepared && rec.Prepared.Height() <= top && len(certs) < int(rec.Prepared.Height()) {
			certs = append(certs, *rec.Prepared)
		}
	}
	if len(certs) != int(top) {
		t.Fatalf("replica %d recorded %d prepared certificates up to height %d", i, len(certs), top)
	}
	return certs
}

// retainCall is one Application.Retain call a replica made.
type retainCall struct {
	above uint64
	keep  []crypto.Hash
	// lost names the kept blocks that were pending before the call and
	// not after it.
	lost []crypto.Hash
}

// retainRecorder records its replica's Retain calls.
type retainRecorder struct {
	pbft.Application
	chain *ledger.PendingChain
	calls *[]retainCall
}

func (a retainRecorder) Retain(above uint64, keep []crypto.Hash) {
	var before []crypto.Hash
	for _, h := range keep {
		if _, ok := a.chain.Block(h); ok {
			before = append(before, h)
		}
	}
	a.Application.Retain(above, keep)
	call := retainCall{above: above, keep: keep}
	for _, h := range before {
		if _, ok := a.chain.Block(h); !ok {
			call.lost = append(call.lost, h)
		}
	}
	*a.calls = append(*a.calls, call)
}

// TestNewViewRetainsTheReproposedChain checks what a replica tells its
// application as it installs a NEW-VIEW: keep the re-proposed blocks (here
// B, prepared at replica 2 only in view 0) above the base checkpoint, and
// drop the rest. B, pending at replica 2 since it prepared there, must
// stay pending through the call, and commit at height 1.
func TestNewViewRetainsTheReproposedChain(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	calls := make([][]retainCall, c.n)
	c.wrapApp = func(i int, app pbft.Application) pbft.Application {
		return retainRecorder{Application: app, chain: c.chains[i], calls: &calls[i]}
	}
	for i := range c.n {
		c.start(i, 10)
	}
	b := proposeOnlyPreparedAt(t, c, 2)
	c.tickUntil(200, c.allCommitted(2, 1, 2, 3))
	for i := 1; i < c.n; i++ {
		if len(calls[i]) == 0 {
			t.Fatalf("replica %d installed view 1 without a Retain call", i)
		}
		first := calls[i][0]
		if first.above != 0 || len(first.keep) != 1 || first.keep[0] != b {
			t.Errorf("replica %d: first Retain(%d, %v), want Retain(0, [%s]): the base is genesis and NEW-VIEW re-proposes B alone",
				i, first.above, first.keep, b.Short())
		}
		for _, call := range calls[i] {
			if len(call.lost) != 0 {
				t.Errorf("replica %d: Retain(%d, %v) dropped kept blocks %v", i, call.above, call.keep, call.lost)
			}
		}
		if got := c.committedAt(i, 1); got.Block.Hash() != b {
			t.Errorf("replica %d committed %s at height 1, want B %s", i, got.Block.Hash().Short(), b.Short())
		}
	}
}

// TestReplayedViewChangesGetOneNewViewPerTimeout checks that a replica
// answers a VIEW-CHANGE for its installed view (the sender missed the
// NEW-VIEW, §4.5.2) with the NEW-VIEW at most once per base timeout per
// sender: anyone can replay a validator's signed VIEW-CHANGE, and each
// copy would otherwise cost every replica a NEW-VIEW, a quorum of
// VIEW-CHANGEs long, sent to that validator. A sender that repeats its
// VIEW-CHANGE after a timeout, as one still changing view does, still
// gets it again. Method: primary 0 is silenced until view 1 is installed
// everywhere; replica 2's VIEW-CHANGE for view 1 is stepped into replica 1
// ten times, then again after a base timeout of ticks.
func TestReplayedViewChangesGetOneNewViewPerTimeout(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	var vc *pbft.Message
	c.outgoing[2] = func(o pbft.Outbound) []pbft.Outbound {
		if o.Msg.Kind == pbft.KindViewChange && o.Msg.View == 1 {
			vc = o.Msg
		}
		return []pbft.Outbound{o}
	}
	c.outgoing[0] = func(pbft.Outbound) []pbft.Outbound { return nil }
	c.tickUntil(200, func() bool {
		for i := 1; i < c.n; i++ {
			if v, active := c.reps[i].View(); v != 1 || !active {
				return false
			}
		}
		return true
	})
	if vc == nil {
		t.Fatal("fixture: replica 2 sent no VIEW-CHANGE for view 1")
	}
	newViewsTo2 := func() int {
		n := 0
		for c.reps[1].HasReady() {
			rd := c.reps[1].Ready()
			for _, o := range rd.Messages {
				if o.Msg.Kind == pbft.KindNewView && o.To == 2 {
					n++
				}
			}
			c.reps[1].Advance()
		}
		return n
	}
	newViewsTo2()
	for range 10 {
		if err := c.reps[1].Step(vc); err != nil {
			t.Fatalf("step the replayed VIEW-CHANGE: %v", err)
		}
	}
	if n := newViewsTo2(); n != 1 {
		t.Fatalf("ten copies of replica 2's VIEW-CHANGE got it %d NEW-VIEWs, want 1", n)
	}
	for range 10 { // clusterOpts' base timeout, in ticks
		c.reps[1].Tick(c.genesis.Header.Timestamp + c.now)
	}
	newViewsTo2()
	if err := c.reps[1].Step(vc); err != nil {
		t.Fatal(err)
	}
	if n := newViewsTo2(); n != 1 {
		t.Fatalf("replica 2's VIEW-CHANGE a base timeout later got %d NEW-VIEWs, want 1", n)
	}
}
