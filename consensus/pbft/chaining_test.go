package pbft_test

import (
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
)

// Tests of the hash-chaining rule (Replica.parentReady): a replica votes
// for the block at height h only when its parent is the block committed at
// h-1 or is prepared in the current view. Each test pins one branch of the
// rule, and the last one shows what the rule is for: without it, a block
// committed by a replica left behind in an old view loses its parent in a
// later view change, and two correct replicas commit different blocks.

// sentVote returns the digest replica i signed in a vote of kind at
// (view, h), from its persisted records.
func sentVote(c *cluster, i int, kind pbft.Kind, view, h uint64) (crypto.Hash, bool) {
	for _, r := range c.records[i] {
		if r.Kind == pbft.RecordSent && r.Sent.Kind == kind && r.Sent.View == view && r.Sent.Height == h {
			return r.Sent.Digest, true
		}
	}
	return crypto.Hash{}, false
}

// preparedBlock returns the block of the latest prepared certificate
// replica i persisted at height h.
func preparedBlock(c *cluster, i int, h uint64) (crypto.Hash, bool) {
	var d crypto.Hash
	ok := false
	for _, r := range c.records[i] {
		if r.Kind == pbft.RecordPrepared && r.Prepared.Height() == h {
			d, ok = r.Prepared.Header.Hash(), true
		}
	}
	return d, ok
}

func isVote(k pbft.Kind) bool {
	return k == pbft.KindPrePrepare || k == pbft.KindPrepare || k == pbft.KindCommit
}

// TestChainingPrepareWaitsForPreparedParent checks the third branch of the rule, and that it still lets heights pipeline: with the PREPAREs of height 1 held back, no backup votes for height 2 (its parent is only pre-prepared); once height 1 prepares, every backup votes for height 2 before height 1 commits (no COMMIT is delivered at all).
func TestChainingPrepareWaitsForPreparedParent(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	var held []envelope
	hold := true
	c.drop = func(e envelope) bool {
		if e.m.Kind == pbft.KindCommit {
			return true
		}
		if hold && e.m.Kind == pbft.KindPrepare && e.m.Height == 1 {
			held = append(held, e)
			return true
		}
		return false
	}
	c.tickOne(0) // height 1
	c.tickOne(0) // height 2, a child of height 1
	b2, ok := sentVote(c, 0, pbft.KindPrePrepare, 0, 2)
	if !ok {
		t.Fatal("the primary did not propose height 2")
	}
	for i := 1; i < 4; i++ {
		if _, ok := sentVote(c, i, pbft.KindPrepare, 0, 1); !ok {
			t.Fatalf("replica %d did not vote for height 1", i)
		}
		if d, ok := sentVote(c, i, pbft.KindPrepare, 0, 2); ok {
			t.Fatalf("replica %d sent PREPARE for %s at height 2 while height 1 was only pre-prepared", i, d.Short())
		}
	}
	hold = false
	c.queue = append(c.queue, held...)
	c.deliver()
	for i := 1; i < 4; i++ {
		if _, ok := preparedBlock(c, i, 1); !ok {
			t.Fatalf("replica %d did not prepare height 1 once the PREPAREs arrived", i)
		}
		if d, ok := sentVote(c, i, pbft.KindPrepare, 0, 2); !ok || d != b2 {
			t.Fatalf("replica %d: PREPARE at height 2 is %s (sent %v), want %s once height 1 prepared", i, d.Short(), ok, b2.Short())
		}
		if len(c.logs[i]) != 0 {
			t.Fatalf("replica %d committed without COMMITs", i)
		}
	}
}

// keepForksApp is an Application that ignores Retain: an application may
// keep the blocks of earlier views, and the engine's own rules must hold
// without its help.
type keepForksApp struct{ pbft.Application }

func (keepForksApp) Retain(uint64, []crypto.Hash) {}

// keepAllForks restarts every replica of the fresh cluster c on an
// application that ignores Retain.
func keepAllForks(c *cluster) {
	c.wrapApp = func(_ int, app pbft.Application) pbft.Application { return keepForksApp{app} }
	for i := range c.n {
		c.start(i, 10)
	}
}

// TestChainingRefusesChildOfAnotherParent checks the parent digest of the third branch, and the second branch, against a Byzantine primary: block A' is proposed at height 1 in view 0 and validated everywhere, but does not prepare, and every application keeps it (keepForksApp: with Retain, view 1 drops it and the replicas wait for a parent instead); in view 1 the faulty primary 1 proposes A at height 1, then a block on A' (not on A) at height 2. No correct replica may vote for that block, neither while A is prepared (third branch) nor once A has committed (second branch): it can never extend their chain, and if it committed the engine would have to panic executing it.
func TestChainingRefusesChildOfAnotherParent(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	keepAllForks(c)
	var heldCommits []envelope
	phase := 0
	c.drop = func(e envelope) bool {
		m := e.m
		switch {
		case phase == 0: // view 0: A' is validated, but no vote gets through
			return m.Kind == pbft.KindPrepare || m.Kind == pbft.KindCommit
		case isVote(m.Kind) && m.View == 0:
			return true
		case phase == 1 && m.Kind == pbft.KindCommit && m.Height == 1:
			heldCommits = append(heldCommits, e) // A stays prepared, not committed
			return true
		case phase < 3 && m.Kind == pbft.KindCommit && m.Height == 2:
			return true // a replica that wrongly prepares fails below instead of panicking
		}
		return false
	}
	c.tickOne(0)
	aSide, ok := sentVote(c, 0, pbft.KindPrePrepare, 0, 1)
	if !ok {
		t.Fatal("primary 0 did not propose height 1")
	}
	c.paused[0] = true // it proposes nothing more in view 0
	c.tickUntil(100, func() bool {
		for i := range 4 {
			if v, active := c.reps[i].View(); v != 1 || !active {
				return false
			}
		}
		return true
	})
	c.paused[0] = false
	phase = 1
	var forked crypto.Hash
	c.outgoing[1] = func(o pbft.Outbound) []pbft.Outbound {
		m := o.Msg
		if m.Kind != pbft.KindPrePrepare || m.View != 1 || m.Height != 2 || m.Block == nil {
			return []pbft.Outbound{o}
		}
		b, err := c.chains[1].Build(aSide, 1, m.Block.Header.Proposer, m.Block.Header.Timestamp, nil)
		if err != nil {
			t.Fatalf("building on A': %v", err)
		}
		forked = b.Hash()
		o.Msg = c.resign(1, &pbft.Message{Kind: pbft.KindPrePrepare, View: 1, Height: 2, Digest: forked, Block: b})
		return []pbft.Outbound{o}
	}
	c.tickOne(1) // A at height 1
	c.tickOne(1) // the block on A' at height 2
	if forked.IsZero() {
		t.Fatal("primary 1 did not propose height 2")
	}
	correct := []int{0, 2, 3}
	noVoteForFork := func(when string) {
		t.Helper()
		for _, i := range correct {
			if d, ok := sentVote(c, i, pbft.KindPrepare, 1, 2); ok {
				t.Fatalf("%s: replica %d sent PREPARE for %s at height 2, a child of A' %s", when, i, d.Short(), aSide.Short())
			}
		}
	}
	for _, i := range correct {
		if _, ok := preparedBlock(c, i, 1); !ok {
			t.Fatalf("replica %d did not prepare A at height 1", i)
		}
	}
	noVoteForFork("height 1 prepared")
	phase = 2
	c.queue = append(c.queue, heldCommits...)
	c.deliver()
	for _, i := range correct {
		if b := c.committedAt(i, 1); b == nil || b.Block.Hash() == aSide {
			t.Fatalf("replica %d did not commit A at height 1", i)
		}
	}
	noVoteForFork("height 1 committed")
	phase = 3
	c.outgoing[1] = nil
	c.tickUntil(300, c.allCommitted(3, correct...))
	for _, i := range correct {
		if b := c.committedAt(i, 2); b.Block.Hash() == forked || b.Block.Header.ParentHash != c.committedAt(i, 1).Block.Hash() {
			t.Fatalf("replica %d committed %s at height 2, want a child of A", i, b.Block.Hash().Short())
		}
	}
}

// staleReplica leaves replica 3 behind in view 0 holding two proposals
// of primary 0, A' at height 1 and B' on it at height 2, while the others
// commit another block A at height 1 in view 1. Every replica votes for A',
// but the PREPAREs to replica 3 are held back and the others lost, so no
// one prepares it; then replica 3 hears nothing and its clock stands
// still. It returns the held PREPAREs (of replicas 1 and 2) and A', B'.
func staleReplica(t *testing.T) (c *cluster, held []*pbft.Message, aSide, bSide crypto.Hash) {
	t.Helper()
	c = newCluster(t, clusterOpts{n: 4})
	stale := false
	c.drop = func(e envelope) bool {
		switch {
		case stale:
			return e.to == 3 || e.from == 3
		case e.m.Kind == pbft.KindPrepare && e.to == 3:
			held = append(held, e.m)
			return true
		}
		return e.m.Kind == pbft.KindPrepare || e.m.Kind == pbft.KindCommit
	}
	c.tickOne(0)
	c.tickOne(0)
	aSide, okA := sentVote(c, 0, pbft.KindPrePrepare, 0, 1)
	bSide, okB := sentVote(c, 0, pbft.KindPrePrepare, 0, 2)
	if !okA || !okB {
		t.Fatal("primary 0 did not propose heights 1 and 2")
	}
	if _, ok := sentVote(c, 3, pbft.KindPrepare, 0, 1); !ok {
		t.Fatal("replica 3 did not vote for A'")
	}
	stale = true
	c.paused[3] = true
	c.tickUntil(200, c.allCommitted(1, 0, 1, 2))
	if a := c.committedAt(1, 1); a.Block.Hash() == aSide || a.Certificate.View != 1 {
		t.Fatalf("height 1 is %s in view %d, want a block other than A' in view 1", a.Block.Hash().Short(), a.Certificate.View)
	}
	return c, held, aSide, bSide
}

// TestChainingNoVoteOnParentLeftBehindByCatchUp checks the second branch: replica 3, in view 0 with B' (a child of A') pre-prepared at height 2, catches up A at height 1 as the node's block sync would deliver it. B' can no longer extend its chain and it must not vote for it: at that moment its application has not yet applied A, still holds A' as pending and would validate B'.
func TestChainingNoVoteOnParentLeftBehindByCatchUp(t *testing.T) {
	c, _, aSide, bSide := staleReplica(t)
	a := c.committedAt(1, 1)
	if err := c.reps[3].DeliverCommitted(a.Block, a.Certificate); err != nil {
		t.Fatalf("catching up height 1: %v", err)
	}
	c.flush(3)
	if got := c.committedAt(3, 1); got == nil || got.Block.Hash() != a.Block.Hash() {
		t.Fatal("replica 3 did not commit the delivered block")
	}
	if d, ok := sentVote(c, 3, pbft.KindPrepare, 0, 2); ok {
		t.Fatalf("replica 3 sent PREPARE for %s at height 2 (B' is %s, a child of A' %s) after committing %s at height 1",
			d.Short(), bSide.Short(), aSide.Short(), a.Block.Hash().Short())
	}
}

// TestChainingNoVoteAgainstCommittedBlock checks the first branch's digest: replica 3 catches up A at height 1 while still in view 0, and then the PREPAREs for A' of view 0 it was waiting for arrive. They make a prepared certificate for A', but A' conflicts with the block it committed there: it must neither prepare A' nor send COMMIT for it.
func TestChainingNoVoteAgainstCommittedBlock(t *testing.T) {
	c, held, aSide, _ := staleReplica(t)
	if len(held) < 2 {
		t.Fatalf("%d PREPAREs held for replica 3, want those of replicas 1 and 2", len(held))
	}
	a := c.committedAt(1, 1)
	if err := c.reps[3].DeliverCommitted(a.Block, a.Certificate); err != nil {
		t.Fatalf("catching up height 1: %v", err)
	}
	c.flush(3)
	for _, m := range held {
		if err := c.reps[3].Step(m); err != nil {
			t.Fatalf("late PREPARE %s: %v", m, err)
		}
		c.flush(3)
	}
	if d, ok := preparedBlock(c, 3, 1); ok {
		t.Fatalf("replica 3 prepared %s at height 1 after committing %s there", d.Short(), a.Block.Hash().Short())
	}
	if d, ok := sentVote(c, 3, pbft.KindCommit, 0, 1); ok {
		t.Fatalf("replica 3 sent COMMIT for %s (A' is %s) at height 1 after committing %s there", d.Short(), aSide.Short(), a.Block.Hash().Short())
	}
}

// TestChainingReplicaRevotesBlockItCommitted checks the first branch's purpose: replica 2 alone commits A at height 1 in view 0, then primary 0 crashes. In view 1 the NEW-VIEW re-proposes A; replicas 1 and 3 need replica 2's PREPARE and COMMIT for a quorum, and replica 2 must give them although neither other branch admits A there (height 1 is its head, not the height above it, and there is no slot at height 0).
func TestChainingReplicaRevotesBlockItCommitted(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.drop = func(e envelope) bool { return e.m.Kind == pbft.KindCommit && e.m.View == 0 && e.to != 2 }
	c.tickOne(0)
	a := c.committedAt(2, 1)
	if a == nil || len(c.logs[1]) != 0 || len(c.logs[3]) != 0 {
		t.Fatal("want height 1 committed at replica 2 only")
	}
	c.crash(0)
	c.tickUntil(300, c.allCommitted(1, 1, 3))
	for _, i := range []int{1, 3} {
		if got := c.committedAt(i, 1); got.Block.Hash() != a.Block.Hash() || got.Certificate.View == 0 {
			t.Fatalf("replica %d: height 1 is %s in view %d, want %s re-proposed", i, got.Block.Hash().Short(), got.Certificate.View, a.Block.Hash().Short())
		}
	}
	if d, ok := sentVote(c, 2, pbft.KindPrepare, 1, 1); !ok || d != a.Block.Hash() {
		t.Fatalf("replica 2 did not vote again for the block it committed (sent %v %s)", ok, d.Short())
	}
}

// TestChainingKeepsStaleCommitSafe is the scenario the rule exists for
// (selection.go's argument), with seven correct replicas and only message
// delays; replica 0 (R) is left behind, replica 6 (Z) holds the only
// certificate of Y.
//
// View 0: primary R proposes Y at height 1 and X on Y at height 2. The
// PREPAREs for Y reach Z only, so Z alone prepares Y; the PREPAREs for X
// reach all but Z. Without the rule, replicas 0-5 prepare X (Y is only
// pre-prepared), and the COMMITs for X reach R, which commits X locally but
// cannot execute it before Y. R then hears nothing more but CHECKPOINTs of
// f+1 peers, and its clock stands still.
//
// View 1, without R and Z: no certificate at height 1, so NEW-VIEW is empty;
// primary 1 proposes Y1 and X1 on it, Y1's PREPAREs are lost, but without
// the rule X1 prepares, replacing every reported certificate of X by one
// of view 1 for a child of Y1.
//
// View 2, with Z: the selection picks Y at height 1 (Z's certificate), finds
// no certificate for a child of Y at height 2 and stops; primary 2 proposes
// X' on Y, and Y, X', ... commit. R learns of checkpoint 12 beyond its
// window, catches up Y, and executes the X it committed in view 0: two
// correct replicas have committed X and X' at height 2. With the rule no
// replica prepares X before Y, R never commits X, and it catches up the
// chain the others committed.
func TestChainingKeepsStaleCommitSafe(t *testing.T) {
	const r, z = 0, 6
	c := newCluster(t, clusterOpts{n: 7})
	phase := 0
	c.drop = func(e envelope) bool {
		m := e.m
		switch {
		case phase > 0 && e.from == r:
			return true
		case phase > 0 && e.to == r:
			return !(m.Kind == pbft.KindCheckpoint && e.from <= 3) // f+1 peers' CHECKPOINTs only
		case phase == 0 && m.Kind == pbft.KindPrepare && m.Height == 1:
			return e.to != z
		case phase == 0 && m.Kind == pbft.KindPrepare && m.Height == 2:
			return e.to == z
		case phase == 0 && m.Kind == pbft.KindCommit:
			return e.to != r || m.Height != 2
		case phase == 1 && m.Kind == pbft.KindPrepare && m.View == 1 && m.Height == 1:
			return true // Y1 never prepares
		case m.Kind == pbft.KindViewChange && m.View == 2 && e.from == 5 && e.to == 2:
			return true // primary 2's quorum is 1-4 and Z
		}
		return false
	}
	c.tickOne(r) // Y
	c.tickOne(r) // X
	y, ok := preparedBlock(c, z, 1)
	if !ok {
		t.Fatal("Z did not prepare Y")
	}
	for i := range 7 {
		if len(c.logs[i]) != 0 {
			t.Fatalf("replica %d committed in view 0", i)
		}
	}

	phase = 1
	c.paused[r], c.down[z] = true, true
	others := []int{1, 2, 3, 4, 5}
	c.tickUntil(300, func() bool {
		for _, i := range others {
			if v, _ := c.reps[i].View(); v < 2 {
				return false
			}
		}
		return true
	})

	phase = 2
	c.down[z] = false
	c.tickUntil(500, c.allCommitted(12, 1, 2, 3, 4, 5, 6))
	if got := c.committedAt(1, 1); got.Block.Hash() != y || got.Certificate.View != 2 {
		t.Fatalf("height 1 is %s in view %d, want Y %s re-proposed in view 2", got.Block.Hash().Short(), got.Certificate.View, y.Short())
	}
	for h := uint64(1); h <= uint64(len(c.logs[r])); h++ {
		if mine, theirs := c.committedAt(r, h).Block.Hash(), c.committedAt(1, h).Block.Hash(); mine != theirs {
			t.Fatalf("SAFETY: at height %d replica %d committed %s, replica 1 %s", h, r, mine.Short(), theirs.Short())
		}
	}
	if len(c.logs[r]) < 12 {
		t.Fatalf("replica %d caught up to height %d, want 12", r, len(c.logs[r]))
	}
}
