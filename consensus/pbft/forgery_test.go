package pbft_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
)

// spoil returns sig with one byte changed.
func spoil(sig crypto.Signature) crypto.Signature {
	sig[0] ^= 0xff
	return sig
}

// TestViewChangeForgeriesRefused checks that every signature a view change rests on is verified (§4.4: certificates are proofs because they are signed): a VIEW-CHANGE with a forged PREPARE in a certificate or a forged checkpoint vote, and a NEW-VIEW holding a forged VIEW-CHANGE or a forged re-proposal, are each refused, while the same messages with their real signatures are accepted; method: take real prepared certificates from a run, build the messages of view 1 with the validators' keys, spoil one signature each, and step them into a fresh replica.
func TestViewChangeForgeriesRefused(t *testing.T) {
	run := newCluster(t, clusterOpts{n: 4})
	run.tickUntil(50, run.allCommitted(6, 0, 1, 2, 3))
	var certs []pbft.PreparedCertificate
	for _, rec := range run.records[3] {
		if rec.Kind == pbft.RecordPrepared && rec.Prepared.View == 0 && int(rec.Prepared.Height()) == len(certs)+1 && len(certs) < 6 {
			certs = append(certs, *rec.Prepared)
		}
	}
	if len(certs) != 6 {
		t.Fatalf("%d certificates from the run", len(certs))
	}
	genesisProof := pbft.CheckpointProof{Height: 0, Digest: run.genesis.Hash()}
	// build returns view 1's VIEW-CHANGEs of replicas 0, 2 and 3 and the
	// NEW-VIEW of its primary, replica 1, after spoil edits them.
	type forgery struct {
		cps   [3]pbft.CheckpointProof
		certs [3][]pbft.PreparedCertificate
	}
	build := func(c *cluster, f forgery, edit func(vcs, pps []*pbft.Message)) (vcs []*pbft.Message, nv *pbft.Message) {
		for i, from := range []int{0, 2, 3} {
			cp, cs := f.cps[i], f.certs[i]
			if cp.Height == 0 {
				cp = genesisProof
			}
			if cs == nil {
				cs = certs
			}
			vcs = append(vcs, c.resign(from, &pbft.Message{Kind: pbft.KindViewChange, View: 1, ViewChange: &pbft.ViewChange{Checkpoint: cp, Prepared: cs}}))
		}
		var pps []*pbft.Message
		for _, cert := range certs {
			pps = append(pps, c.resign(1, &pbft.Message{Kind: pbft.KindPrePrepare, View: 1, Height: cert.Height(), Digest: cert.Header.Hash()}))
		}
		if edit != nil {
			edit(vcs, pps)
		}
		return vcs, c.resign(1, &pbft.Message{Kind: pbft.KindNewView, View: 1, NewView: &pbft.NewView{ViewChanges: vcs, PrePrepares: pps}})
	}
	forgedCert := slices.Clone(certs)
	forgedCert[2].Prepares = slices.Clone(forgedCert[2].Prepares)
	forgedCert[2].Prepares[1].Signature = spoil(forgedCert[2].Prepares[1].Signature)
	cp4 := pbft.CheckpointProof{Height: 4, Digest: certs[3].Header.Hash(), StateRoot: certs[3].Header.StateRoot}
	for _, i := range []uint16{0, 1, 2} {
		m := run.resign(int(i), &pbft.Message{Kind: pbft.KindCheckpoint, Height: 4, Digest: cp4.Digest, StateRoot: cp4.StateRoot})
		cp4.Votes = append(cp4.Votes, pbft.Vote{From: i, Signature: m.Signature})
	}
	forgedCP := cp4
	forgedCP.Votes = slices.Clone(cp4.Votes)
	forgedCP.Votes[2].Signature = spoil(forgedCP.Votes[2].Signature)

	cases := []struct {
		name    string
		f       forgery
		edit    func(vcs, pps []*pbft.Message)
		newView bool // step the NEW-VIEW; else replica 2's VIEW-CHANGE
		refused bool
	}{
		{"real VIEW-CHANGE", forgery{}, nil, false, false},
		{"real VIEW-CHANGE with a real checkpoint", forgery{cps: [3]pbft.CheckpointProof{1: cp4}, certs: [3][]pbft.PreparedCertificate{1: certs[4:]}}, nil, false, false},
		{"VIEW-CHANGE with a forged PREPARE", forgery{certs: [3][]pbft.PreparedCertificate{1: forgedCert}}, nil, false, true},
		{"VIEW-CHANGE with a forged checkpoint vote", forgery{cps: [3]pbft.CheckpointProof{1: forgedCP}, certs: [3][]pbft.PreparedCertificate{1: certs[4:]}}, nil, false, true},
		{"real NEW-VIEW", forgery{}, nil, true, false},
		{"NEW-VIEW with a forged VIEW-CHANGE", forgery{}, func(vcs, _ []*pbft.Message) {
			vc := *vcs[1]
			vc.Signature = spoil(vc.Signature)
			vcs[1] = &vc
		}, true, true},
		{"NEW-VIEW with a forged re-proposal", forgery{}, func(_, pps []*pbft.Message) {
			pp := *pps[0]
			pp.Signature = spoil(pp.Signature)
			pps[0] = &pp
		}, true, true},
	}
	for _, tc := range cases {
		c := newCluster(t, clusterOpts{n: 4})
		vcs, nv := build(c, tc.f, tc.edit)
		m, to := vcs[1], 1 // replica 2's VIEW-CHANGE to the new primary
		if tc.newView {
			m, to = nv, 3
		}
		err := c.reps[to].Step(m)
		if refused := errors.Is(err, pbft.ErrBadSignature); refused != tc.refused || (err != nil && !refused) {
			t.Fatalf("%s: Step returned %v, want refused for a bad signature: %v", tc.name, err, tc.refused)
		}
		if low := c.reps[to].LowWatermark(); tc.refused && low != 0 {
			t.Fatalf("%s: refused, yet the low watermark moved to %d", tc.name, low)
		}
		if v, active := c.reps[to].View(); tc.newView && !tc.refused && (v != 1 || !active) {
			t.Fatalf("%s: replica %d in view %d active=%v, want view 1 installed", tc.name, to, v, active)
		}
	}
}
