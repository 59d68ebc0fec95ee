package sim

import (
	"errors"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// TestPromiseCheckerCatchesBrokenPromises checks that the network fails a run the moment a correct replica breaks a promise that need not fork the chain at once: a second digest for one (view, height) vote, in a message or inside NEW-VIEW, and a VIEW-CHANGE that leaves out a height it sent COMMIT for; method: hand the network's send path such messages from a correct node, and the same ones from a faulty node, which must pass.
func TestPromiseCheckerCatchesBrokenPromises(t *testing.T) {
	d1, d2 := crypto.Sum256([]byte("one")), crypto.Sum256([]byte("two"))
	vote := func(k pbft.Kind, from uint16, view, h uint64, d crypto.Hash) *pbft.Message {
		return &pbft.Message{Kind: k, From: from, View: view, Height: h, Digest: d}
	}
	viewChange := func(from uint16, view uint64, prepared ...uint64) *pbft.Message {
		vc := &pbft.ViewChange{}
		for _, h := range prepared {
			vc.Prepared = append(vc.Prepared, pbft.PreparedCertificate{View: view - 1, Header: ledger.Header{Height: h}})
		}
		return &pbft.Message{Kind: pbft.KindViewChange, From: from, View: view, ViewChange: vc}
	}
	cases := []struct {
		name string
		msgs []*pbft.Message
		bad  bool
	}{
		{"same vote twice", []*pbft.Message{vote(pbft.KindPrepare, 1, 0, 1, d1), vote(pbft.KindPrepare, 1, 0, 1, d1)}, false},
		{"prepare for two digests", []*pbft.Message{vote(pbft.KindPrepare, 1, 0, 1, d1), vote(pbft.KindPrepare, 1, 0, 1, d2)}, true},
		{"two pre-prepares, one in NEW-VIEW", []*pbft.Message{vote(pbft.KindPrePrepare, 1, 1, 3, d1),
			{Kind: pbft.KindNewView, From: 1, View: 1, NewView: &pbft.NewView{PrePrepares: []*pbft.Message{vote(pbft.KindPrePrepare, 1, 1, 3, d2)}}}}, true},
		{"view change keeps committed height", []*pbft.Message{vote(pbft.KindCommit, 1, 0, 2, d1), viewChange(1, 1, 1, 2)}, false},
		{"view change drops committed height", []*pbft.Message{vote(pbft.KindCommit, 1, 0, 2, d1), viewChange(1, 1, 1)}, true},
	}
	for _, c := range cases {
		for _, faulty := range []bool{false, true} {
			w, err := NewNetwork(Scenario{Seed: 1, N: 4, MaxDelayMs: 10, DeltaMs: 10, TimeoutTicks: 8})
			if err != nil {
				t.Fatal(err)
			}
			n := w.Nodes()[1]
			n.Faulty = faulty
			for _, m := range c.msgs {
				w.send(n, pbft.Outbound{To: pbft.Broadcast, Msg: m})
			}
			if got, want := errors.Is(w.err, ErrSafety), c.bad && !faulty; got != want {
				t.Fatalf("%s (faulty=%v): run error %v, want a safety violation: %v", c.name, faulty, w.err, want)
			}
		}
	}
}
