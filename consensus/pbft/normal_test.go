package pbft_test

import (
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
)

// TestPaperNormalCase checks Castro & Liskov 1999 §4.2 with pipelining: four replicas on a reliable network commit the primary's blocks in height order in view 0, every replica the same hash-linked chain with a quorum certificate.
func TestPaperNormalCase(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.tickUntil(100, c.allCommitted(20, 0, 1, 2, 3))
	for h := uint64(1); h <= 20; h++ {
		want := c.committedAt(0, h)
		if want.Block.Header.View != 0 || want.Block.Header.Proposer != c.vals.At(0).Address() {
			t.Fatalf("height %d: view %d proposer %s, want view 0 and validator 0", h, want.Block.Header.View, want.Block.Header.Proposer)
		}
		for i := 1; i < 4; i++ {
			got := c.committedAt(i, h)
			if got.Block.Hash() != want.Block.Hash() {
				t.Fatalf("height %d: replica %d committed %s, replica 0 %s", h, i, got.Block.Hash().Short(), want.Block.Hash().Short())
			}
			if err := pbft.VerifyCommitCertificate(got.Certificate, c.vals, c.verif); err != nil || got.Certificate.View != 0 {
				t.Fatalf("height %d replica %d: certificate view %d: %v", h, i, got.Certificate.View, err)
			}
		}
		if h > 1 && want.Block.Header.ParentHash != c.committedAt(0, h-1).Block.Hash() {
			t.Fatalf("height %d is not linked to %d", h, h-1)
		}
	}
}

// TestCommitCertificateVerifiesWithEd25519 checks that the COMMITs collected with real ed25519 keys form a ledger.CommitCertificate that ledger's own Verify accepts, and that tampering is refused.
func TestCommitCertificateVerifiesWithEd25519(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, ed25519: true})
	c.tickUntil(50, c.allCommitted(3, 0, 1, 2, 3))
	for h := uint64(1); h <= 3; h++ {
		cb := c.committedAt(2, h)
		if err := cb.Certificate.VerifyFor(c.chainID, c.vals, cb.Block); err != nil {
			t.Fatalf("height %d: ledger refuses the engine's certificate: %v", h, err)
		}
		bad := *cb.Certificate
		bad.View++
		if err := bad.Verify(c.chainID, c.vals); err == nil {
			t.Fatalf("height %d: certificate with a changed view verifies", h)
		}
	}
}

// TestStepRefusesBadSignatureAndStranger checks that Step verifies the signature and the sender before anything else and changes nothing on refusal.
func TestStepRefusesBadSignatureAndStranger(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	forged := &pbft.Message{Kind: pbft.KindPrepare, From: 2, View: 0, Height: 1}
	forged.Signature = c.signers[3].Sign(forged.SigningBytes()) // replica 3 cannot sign for 2
	if err := c.reps[1].Step(forged); err == nil {
		t.Fatal("a PREPARE signed with another replica's key was accepted")
	}
	stranger := c.resign(0, &pbft.Message{Kind: pbft.KindPrepare, Height: 1})
	stranger.From = 9
	if err := c.reps[1].Step(stranger); err == nil {
		t.Fatal("a message from a non-validator was accepted")
	}
	if c.reps[1].HasReady() {
		t.Fatal("a refused message produced output")
	}
}

// TestInvalidProposalStartsViewChangeAtOnce checks that a proposal the application rejects is kept as evidence against the primary and starts a view change without waiting for the timeout (no Tick in between).
func TestInvalidProposalStartsViewChangeAtOnce(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.outgoing[0] = func(o pbft.Outbound) []pbft.Outbound {
		if o.Msg.Kind == pbft.KindPrePrepare && o.Msg.Block != nil {
			bad := *o.Msg.Block
			bad.Header.StateRoot[0] ^= 1
			o.Msg = c.resign(0, &pbft.Message{Kind: pbft.KindPrePrepare, View: o.Msg.View, Height: o.Msg.Height, Digest: bad.Hash(), Block: &bad})
		}
		return []pbft.Outbound{o}
	}
	c.reps[0].Tick(c.genesis.Header.Timestamp + 10)
	c.flush(0)
	c.deliver()
	for i := 1; i < 4; i++ {
		if v, active := c.reps[i].View(); v != 1 {
			t.Fatalf("replica %d in view %d (active %v), want a view change to 1 right after the bad proposal", i, v, active)
		}
		ev := c.reps[i].Evidence()
		if len(ev) == 0 || ev[0].Kind != pbft.EvidenceInvalidProposal || ev[0].Validator != 0 {
			t.Fatalf("replica %d evidence %+v, want an invalid proposal by 0", i, ev)
		}
		if err := ev[0].Verify(c.verif); err != nil {
			t.Fatalf("evidence does not verify: %v", err)
		}
	}
	c.tickUntil(50, c.allCommitted(1, 1, 2, 3))
	if b := c.committedAt(1, 1).Block; b.Header.View != 1 || b.Header.Proposer != c.vals.At(1).Address() {
		t.Fatalf("height 1 committed in view %d by %s, want view 1 by validator 1", b.Header.View, b.Header.Proposer)
	}
}

// TestEquivocationIsVerifiableEvidence checks that two different PRE-PREPAREs signed by the primary for one (view, height) are kept as evidence holding both signed messages, and that nothing commits until a view change.
func TestEquivocationIsVerifiableEvidence(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4})
	c.outgoing[0] = func(o pbft.Outbound) []pbft.Outbound {
		if o.Msg.Kind != pbft.KindPrePrepare || o.Msg.Block == nil || o.Msg.Height != 1 || o.Msg.View != 0 {
			return []pbft.Outbound{o}
		}
		alt, err := c.chains[0].Build(o.Msg.Block.Header.ParentHash, 0, o.Msg.Block.Header.Proposer, o.Msg.Block.Header.Timestamp+5, nil)
		if err != nil {
			t.Fatal(err)
		}
		altMsg := c.resign(0, &pbft.Message{Kind: pbft.KindPrePrepare, View: 0, Height: 1, Digest: alt.Hash(), Block: alt})
		return []pbft.Outbound{{To: 1, Msg: o.Msg}, {To: 2, Msg: o.Msg}, {To: 3, Msg: altMsg}, {To: 3, Msg: o.Msg}}
	}
	c.tick()
	ev := c.reps[3].Evidence()
	if len(ev) != 1 || ev[0].Kind != pbft.EvidenceConflict || ev[0].Validator != 0 || ev[0].Second == nil {
		t.Fatalf("replica 3 evidence %+v, want one conflict by validator 0", ev)
	}
	if err := ev[0].Verify(c.verif); err != nil {
		t.Fatalf("conflict evidence does not verify: %v", err)
	}
	if !hasEvent(c.events[3], func(e pbft.EventEvidence) bool { return e.Evidence.Kind == pbft.EvidenceConflict }) {
		t.Fatal("no evidence event")
	}
}
