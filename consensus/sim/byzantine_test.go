package sim

import (
	"errors"
	"strings"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
)

// TestForkParentPrimaryKeepsChainLinked replays testdata/byzantine_fork_parent.json: primary 0 proposes A' at height 1 just before every link goes down, so each replica validates A' but no vote gets through, and keeps it (the scenario's applications ignore Retain, keep_forks); in view 1 the faulty primary 1 proposes A at height 1 and then a block on A' at height 2, which every correct replica's application accepts. Only the engine's chaining rule keeps them from voting for it (had it committed, their engines would panic executing a block that is not a child of A). Method: the run must keep every invariant and reach its target, and the faulty primary must really have sent a forked proposal.
func TestForkParentPrimaryKeepsChainLinked(t *testing.T) {
	sc, err := LoadScenario("testdata/byzantine_fork_parent.json")
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewNetwork(sc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.Run()
	t.Logf("%s: %+v", sc.Name, st)
	if err != nil {
		t.Fatal(err)
	}
	if st.Heights < uint64(sc.Heights) {
		t.Fatalf("committed %d heights, want >= %d", st.Heights, sc.Heights)
	}
	if forked := w.nodes[1].forked; forked == 0 {
		t.Fatal("the faulty primary never proposed on another parent: the scenario no longer exercises the chaining rule")
	}
}

// panicking stands for an engine tripping over one of its invariants: its
// node panics the first time it sends.
type panicking struct{}

func (panicking) Outgoing(*Node, []pbft.Outbound) []pbft.Outbound { panic("invariant broken") }

// TestPanicInRunIsSafetyViolation checks that a panic during a run comes back from Run as a safety violation carrying the panic, instead of killing the process (runMany runs scenarios on goroutines, so a panic would lose every seed and replay command); method: one node's behaviour panics.
func TestPanicInRunIsSafetyViolation(t *testing.T) {
	w, err := NewNetwork(Scenario{Seed: 1, N: 4, MaxDelayMs: 10, DeltaMs: 10, TimeoutTicks: 8, Heights: 5})
	if err != nil {
		t.Fatal(err)
	}
	w.nodes[2].Behaviour = panicking{}
	if _, err := w.Run(); !errors.Is(err, ErrSafety) || !strings.Contains(err.Error(), "invariant broken") {
		t.Fatalf("Run returned %v, want a safety violation carrying the panic", err)
	}
}
