package sim

import (
	"flag"
	"testing"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the random scenario TestReplaySeed replays")

// TestReplaySeed replays the random scenario of -seed exactly, as printed by a failing run.
func TestReplaySeed(t *testing.T) {
	if *seedFlag == 0 {
		t.Skip("set -seed to replay a scenario")
	}
	sc := RandomScenario(*seedFlag)
	t.Logf("scenario: %+v", sc)
	st, err := RunScenario(sc)
	t.Logf("stats: %+v", st)
	if err != nil {
		t.Fatal(err)
	}
}

// TestCleanNetwork checks the normal case end to end: four correct replicas on a reliable network commit 30 heights and every submitted tx.
func TestCleanNetwork(t *testing.T) {
	sc := Scenario{Seed: 1, N: 4, GST: 0, MaxDelayMs: 10, DeltaMs: 10, Txs: 5, TimeoutTicks: 8, Heights: 30}
	st, err := RunScenario(sc)
	t.Logf("stats: %+v", st)
	if err != nil {
		t.Fatal(err)
	}
	if st.Heights < 30 || st.ViewChanges != 0 {
		t.Fatalf("heights %d view changes %d, want >= 30 and 0", st.Heights, st.ViewChanges)
	}
}
