package node

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// voteSigsFixture is a validator set of n keys and a signed vote of each
// kind from each validator, for chain "votes".
type voteSigsFixture struct {
	keys []crypto.PrivateKey
	vals *ledger.ValidatorSet
}

func newVoteSigsFixture(t *testing.T, n int) voteSigsFixture {
	t.Helper()
	f := voteSigsFixture{}
	var vs []ledger.Validator
	for i := range n {
		k, err := crypto.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		f.keys = append(f.keys, k)
		vs = append(vs, ledger.Validator{Name: string(rune('a' + i)), PublicKey: k.Public()})
	}
	var err error
	if f.vals, err = ledger.NewValidatorSet(vs); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f voteSigsFixture) vote(kind pbft.Kind, from uint16, height uint64) *pbft.Message {
	m := &pbft.Message{Kind: kind, From: from, View: 2, Height: height, Digest: crypto.Sum256([]byte{byte(height)})}
	m.Signature = pbft.Ed25519Signer{Key: f.keys[from], ChainID: "votes"}.Sign(m.SigningBytes())
	return m
}

// TestVoteSigsRecordsOnlyValidBatchedVotes: the loop's batch must spare the
// replica exactly the checks it would have passed. Method: a batch with
// valid votes of three kinds, a forged vote, the replica's own vote and a
// PRE-PREPARE; only the valid votes of other validators may be found
// verified, each only for the bytes it signs, and nothing after clear.
// The replica's verifier must still refuse the forged one.
func TestVoteSigsRecordsOnlyValidBatchedVotes(t *testing.T) {
	f := newVoteSigsFixture(t, 4)
	s := newVoteSigs(f.vals, "votes", 0)
	prepare, commit, checkpoint := f.vote(pbft.KindPrepare, 1, 5), f.vote(pbft.KindCommit, 2, 5), f.vote(pbft.KindCheckpoint, 3, 16)
	forged := f.vote(pbft.KindCommit, 3, 5)
	forged.Signature[7] ^= 1
	own := f.vote(pbft.KindPrepare, 0, 5)
	proposal := f.vote(pbft.KindPrePrepare, 1, 6)
	s.verify([]*pbft.Message{prepare, commit, checkpoint, forged, own, proposal})

	for _, m := range []*pbft.Message{prepare, commit, checkpoint} {
		if !s.verified(m.From, m.SigningBytes(), m.Signature) {
			t.Errorf("valid %s not recorded", m.Kind)
		}
	}
	for _, m := range []*pbft.Message{forged, own, proposal} {
		if s.verified(m.From, m.SigningBytes(), m.Signature) {
			t.Errorf("%s from %d recorded", m.Kind, m.From)
		}
	}
	other := *prepare
	other.Height++
	if s.verified(prepare.From, other.SigningBytes(), prepare.Signature) {
		t.Error("a signature recorded for other bytes")
	}
	if s.verified(2, prepare.SigningBytes(), prepare.Signature) {
		t.Error("a signature recorded for another sender")
	}

	v := certVerifier{pbft.Ed25519Verifier{Validators: f.vals, ChainID: "votes"}, nil, s}
	if err := v.Verify(forged.From, forged.SigningBytes(), forged.Signature); !errors.Is(err, pbft.ErrBadSignature) {
		t.Errorf("forged vote: %v, want a bad signature", err)
	}
	if err := v.Verify(commit.From, commit.SigningBytes(), commit.Signature); err != nil {
		t.Errorf("valid vote: %v", err)
	}

	s.clear()
	if s.verified(prepare.From, prepare.SigningBytes(), prepare.Signature) {
		t.Error("a verdict outlived clear")
	}
}

// TestVoteSigsLeavesSmallBatchesToReplica: a batch too small to gain is
// not checked at all (the replica checks each vote alone, once), and a
// vote repeated within a batch counts once.
func TestVoteSigsLeavesSmallBatchesToReplica(t *testing.T) {
	f := newVoteSigsFixture(t, 4)
	s := newVoteSigs(f.vals, "votes", 0)
	a, b := f.vote(pbft.KindPrepare, 1, 5), f.vote(pbft.KindPrepare, 2, 5)
	s.verify([]*pbft.Message{a, b, a, b, a})
	if len(s.valid) != 0 {
		t.Fatalf("%d verdicts from a batch of two distinct votes", len(s.valid))
	}
	if s.batch.Len() != 0 {
		t.Fatalf("%d signatures left queued", s.batch.Len())
	}
}
