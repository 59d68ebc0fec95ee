package sim

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestTwinsScenarios replays every Twins scenario stored in testdata: those within the fault bound must keep every invariant, and the one beyond it must be caught by the safety checker.
func TestTwinsScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/twins_*.json")
	if err != nil || len(files) < 3 {
		t.Fatalf("twins scenarios: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := LoadScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			st, err := RunScenario(sc)
			t.Logf("%s: %+v", sc.Name, st)
			switch {
			case sc.ExpectViolation && !errors.Is(err, ErrSafety):
				t.Fatalf("beyond the bound the checker must report a safety violation, got %v", err)
			case !sc.ExpectViolation && err != nil:
				t.Fatal(err)
			case !sc.ExpectViolation && st.Heights < uint64(sc.Heights):
				t.Fatalf("committed %d heights, want >= %d", st.Heights, sc.Heights)
			}
		})
	}
}

// TestByzantineBeyondBoundBreaksSafety shows the checkers can fail with random seeds too: twins of f+1 keys split evenly by a long partition make correct replicas commit different blocks.
func TestByzantineBeyondBoundBreaksSafety(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		sc := Scenario{Seed: seed, N: 7, GST: 1500, MaxDelayMs: 10, DeltaMs: 10, Twins: []uint16{0, 1, 2}, Txs: 2, TimeoutTicks: 8, Heights: 30,
			ExpectViolation: true, Partitions: []Partition{{Start: 0, End: 1500, Groups: [][]int{{0, 1, 2, 3, 4}, {7, 8, 9, 5, 6}}}}}
		if _, err := RunScenario(sc); !errors.Is(err, ErrSafety) {
			t.Fatalf("seed %d: want a safety violation with f+1 twins, got %v", seed, err)
		}
	}
}

// TestBadScenarioRefused checks that a stored scenario the network cannot run (no delay bound, a crash or twin of a node that does not exist) is refused with its reason instead of panicking mid-run; method: run each broken scenario under recover.
func TestBadScenarioRefused(t *testing.T) {
	good := Scenario{Seed: 1, N: 4, GST: 100, MaxDelayMs: 10, DeltaMs: 10, TimeoutTicks: 8, Heights: 1}
	for name, edit := range map[string]func(*Scenario){
		"no delay before GST": func(sc *Scenario) { sc.MaxDelayMs = 0 },
		"no delay after GST":  func(sc *Scenario) { sc.DeltaMs = 0 },
		"crash of node 9":     func(sc *Scenario) { sc.Crashes = []Crash{{Node: 9, At: 1, Restart: 5}} },
		"twin of validator 7": func(sc *Scenario) { sc.Twins = []uint16{7} },
		"Byzantine 4 of 4":    func(sc *Scenario) { sc.Byzantine = map[uint16]string{4: FaultSilent} },
	} {
		sc := good
		edit(&sc)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s: panic: %v", name, r)
				}
			}()
			if _, err := RunScenario(sc); err == nil {
				t.Fatalf("%s: scenario accepted", name)
			}
		}()
	}
	if _, err := RunScenario(good); err != nil {
		t.Fatalf("good scenario: %v", err)
	}
}
