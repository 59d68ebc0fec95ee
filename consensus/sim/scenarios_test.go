package sim

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	scenariosFlag = flag.Int("scenarios", 10_000, "random scenarios TestRandomScenarios runs (2,000 under -short)")
	soakFlag      = flag.Int("soak", 0, "random scenarios TestSoak runs (0 skips it)")
	firstSeedFlag = flag.Uint64("firstseed", 1, "seed of the first random scenario")
)

// runMany runs count random scenarios from seed first on every CPU and
// returns the summed stats and the failing seeds with their errors.
func runMany(first uint64, count int) (Stats, []string) {
	var mu sync.Mutex
	var total Stats
	var failures []string
	seeds := make(chan uint64)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				st, err := RunScenario(RandomScenario(seed))
				mu.Lock()
				total.Add(st)
				if err != nil && len(failures) < 20 {
					failures = append(failures, fmt.Sprintf("seed %d: %v\n  replay: %s", seed, err, ReplayCommand(seed)))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range count {
		seeds <- first + uint64(i)
	}
	close(seeds)
	wg.Wait()
	return total, failures
}

// TestRandomScenarios is the main proof: thousands of seeded random scenarios (n = 4, 7, 10; every Byzantine behaviour, twins, crashes, loss, partitions) must all keep every invariant, and enough of them must exercise view changes, crashes and twins; it prints one summary line and asserts on it.
func TestRandomScenarios(t *testing.T) {
	count := *scenariosFlag
	if testing.Short() && count > 2000 {
		count = 2000
	}
	start := time.Now()
	total, failures := runMany(*firstSeedFlag, count)
	t.Logf("SUMMARY scenarios=%d heights=%d view_changes=%d scenarios_with_view_change=%d crash_restarts=%d twins=%d dropped=%d delivered=%d evidence=%d txs=%d elapsed=%s",
		total.Scenarios, total.Heights, total.ViewChanges, total.WithViewChange, total.CrashRestarts, total.Twins, total.Dropped,
		total.Delivered, total.Evidence, total.Txs, time.Since(start).Round(time.Second))
	for _, f := range failures {
		t.Error(f)
	}
	if total.Scenarios != count || total.Heights < uint64(30*count) || total.CrashRestarts == 0 || total.Twins == 0 || total.Dropped == 0 ||
		4*total.WithViewChange < count {
		t.Fatalf("summary does not show the coverage asked for")
	}
}

// TestSoak runs -soak random scenarios after the regular ones (seeds beyond them), for long unattended runs; it is skipped without the flag.
func TestSoak(t *testing.T) {
	if *soakFlag == 0 {
		t.Skip("set -soak=N to run N more random scenarios")
	}
	start := time.Now()
	total, failures := runMany(*firstSeedFlag+uint64(*scenariosFlag), *soakFlag)
	t.Logf("SOAK scenarios=%d heights=%d view_changes=%d crash_restarts=%d twins=%d dropped=%d elapsed=%s",
		total.Scenarios, total.Heights, total.ViewChanges, total.CrashRestarts, total.Twins, total.Dropped, time.Since(start).Round(time.Second))
	for _, f := range failures {
		t.Error(f)
	}
}
