package pbft_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// replicaConfig is a Config for replica 0 of n validators with parameters p.
func replicaConfig(t *testing.T, n int, p ledger.ConsensusParams) pbft.Config {
	t.Helper()
	g := &ledger.Genesis{ChainID: "synod-test", GenesisTime: time.Unix(1_700_000_000, 0).UTC(), Consensus: p}
	for i := range n {
		seed := crypto.Sum256(fmt.Appendf(nil, "limits-test/%d", i))
		k, _ := crypto.PrivateKeyFromSeed(seed[:])
		g.Validators = append(g.Validators, ledger.Validator{Name: fmt.Sprint("v", i), PublicKey: k.Public()})
	}
	g.Accounts = []ledger.GenesisAccount{{Address: g.Validators[0].PublicKey.Address(), Amount: 1}}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	vals, _ := g.ValidatorSet()
	block0, diff := ledger.GenesisBlock(g)
	st := ledger.NewMemState()
	st.Apply(diff)
	return pbft.Config{
		ChainID: g.ChainID, Validators: vals, Params: p,
		App:    pbft.ChainApplication{Chain: ledger.NewPendingChain(g.ChainID, p, block0.Header, st)},
		Signer: pbft.NoopSigner{}, Verifier: pbft.NoopVerifier{Validators: n},
		Head: block0.Header, Genesis: block0.Hash(), ViewChangeTicks: 10,
	}
}

// TestNewReplicaRefusesWindowTooLargeForNewView checks that a replica is not built for a chain whose view change could never complete: with ledger.ValidatorsMax validators and the default window of 32 heights, a NEW-VIEW of a quorum of full VIEW-CHANGEs is far above MessageBytesMax, so every replica would refuse it; method: NewReplica with genesis-valid parameters must return ErrConfig naming window_heights, and accept a window of 4.
func TestNewReplicaRefusesWindowTooLargeForNewView(t *testing.T) {
	p := ledger.DefaultConsensusParams()
	p.CheckpointInterval, p.WindowHeights = 16, 32
	_, err := pbft.NewReplica(replicaConfig(t, ledger.ValidatorsMax, p))
	if !errors.Is(err, pbft.ErrConfig) || !strings.Contains(fmt.Sprint(err), "window_heights") {
		t.Fatalf("NewReplica with %d validators and window 32: %v, want ErrConfig about window_heights", ledger.ValidatorsMax, err)
	}
	p.CheckpointInterval, p.WindowHeights = 4, 4
	if _, err := pbft.NewReplica(replicaConfig(t, ledger.ValidatorsMax, p)); err != nil {
		t.Fatalf("window 4: %v", err)
	}
}

// fullViewChange is the largest VIEW-CHANGE replicas accept for n
// validators and window w: a checkpoint proof signed by all, and a
// certificate with the largest header and every backup's PREPARE at each
// window height. Signatures are not checked by Decode, so zero ones do.
func fullViewChange(n int, w uint64, from uint16) *pbft.Message {
	votes := func(skip int) []pbft.Vote {
		var vs []pbft.Vote
		for i := range n {
			if i != skip {
				vs = append(vs, pbft.Vote{From: uint16(i)})
			}
		}
		return vs
	}
	vc := &pbft.ViewChange{Checkpoint: pbft.CheckpointProof{Height: 0, Votes: votes(-1)}}
	for h := uint64(1); h <= w; h++ {
		hdr := ledger.Header{ChainID: strings.Repeat("c", crypto.ChainIDBytesMax), Height: h}
		vc.Prepared = append(vc.Prepared, pbft.PreparedCertificate{Header: hdr, Prepares: votes(0)})
	}
	return &pbft.Message{Kind: pbft.KindViewChange, From: from, View: 1, ViewChange: vc}
}

// TestLargestNewViewDecodes checks that the largest NEW-VIEW of any chain NewReplica accepts decodes, and that one window height more is refused; method: for several validator counts up to ledger.ValidatorsMax, find the largest window CheckParams (which NewReplica applies) accepts, build a NEW-VIEW of a quorum of the largest VIEW-CHANGEs and a PRE-PREPARE per height, and decode its encoding.
func TestLargestNewViewDecodes(t *testing.T) {
	for _, n := range []int{4, 31, 100, ledger.ValidatorsMax} {
		p := ledger.DefaultConsensusParams()
		p.CheckpointInterval = 1
		// CheckParams alone: genesis (ledger.WindowHeightsMax) bounds the
		// window further for small validator sets, and the size bound is
		// what this test checks.
		accepts := func(w uint64) bool {
			p.WindowHeights = w
			return pbft.CheckParams(n, p) == nil
		}
		lo, hi := uint64(1), uint64(100_000) // largest accepted window in [lo, hi)
		if !accepts(lo) {
			t.Fatalf("n=%d: a window of 1 height is refused", n)
		}
		for hi-lo > 1 {
			if mid := (lo + hi) / 2; accepts(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		q := (n+(n-1)/3)/2 + 1 // ledger.ValidatorSet.Quorum
		if votes := uint64(q) * lo * uint64(n-1) * (2 + crypto.SignatureBytes); votes > pbft.MessageBytesMax {
			t.Fatalf("n=%d: window %d is accepted, but the PREPAREs alone of its largest NEW-VIEW take %d bytes, above %d", n, lo, votes, pbft.MessageBytesMax)
		}
		nv := &pbft.NewView{}
		for i := range q {
			nv.ViewChanges = append(nv.ViewChanges, fullViewChange(n, lo, uint16(i)))
		}
		for h := uint64(1); h <= lo; h++ {
			nv.PrePrepares = append(nv.PrePrepares, &pbft.Message{Kind: pbft.KindPrePrepare, View: 1, Height: h})
		}
		b := pbft.Encode(&pbft.Message{Kind: pbft.KindNewView, View: 1, NewView: nv})
		if _, err := pbft.Decode(b); err != nil {
			t.Fatalf("n=%d window=%d: the largest NEW-VIEW (%d bytes) does not decode: %v", n, lo, len(b), err)
		}
		nv.ViewChanges = append(nv.ViewChanges[:0], fullViewChange(n, lo+1, 0))
		for i := 1; i < q; i++ {
			nv.ViewChanges = append(nv.ViewChanges, nv.ViewChanges[0])
		}
		nv.PrePrepares = append(nv.PrePrepares, &pbft.Message{Kind: pbft.KindPrePrepare, View: 1, Height: lo + 1})
		if b := pbft.Encode(&pbft.Message{Kind: pbft.KindNewView, View: 1, NewView: nv}); len(b) <= pbft.MessageBytesMax && len(pbft.Encode(nv.ViewChanges[0])) <= pbft.ViewChangeBytesMax {
			t.Fatalf("n=%d: window %d is refused but its largest NEW-VIEW (%d bytes) fits", n, lo+1, len(b))
		}
		t.Logf("n=%d: largest window %d", n, lo)
	}
}
