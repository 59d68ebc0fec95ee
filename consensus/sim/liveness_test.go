package sim

import (
	"testing"
)

// committedBetween counts the blocks node i committed whose proposer's
// clock lay in (from, to) simulated milliseconds.
func committedBetween(w *Network, i int, from, to int64) int {
	n := 0
	for _, c := range w.Log(i) {
		if t := c.Block.Header.Timestamp - w.genesisTime; t > from && t < to {
			n++
		}
	}
	return n
}

// TestConsecutiveViewChangesWithCrashedPrimaries checks liveness after GST with f replicas down across consecutive view changes (§4.5.2, timeouts doubling); method: the primaries of the first f views crash once the chain runs and come back only much later; meanwhile the others must change view f times in a row and keep committing, and the crashed ones must catch up and rejoin after they restart.
func TestConsecutiveViewChangesWithCrashedPrimaries(t *testing.T) {
	for _, n := range []int{4, 7, 10} {
		const crashAt, restartAt = 300, 20_000
		// The target lies beyond what the others reach before the restart:
		// the run ends only once the restarted replicas caught up.
		sc := Scenario{Seed: uint64(n), N: n, GST: 0, MaxDelayMs: 10, DeltaMs: 10, Txs: 4, TimeoutTicks: 8, Heights: 2500}
		for v := range (n - 1) / 3 {
			sc.Crashes = append(sc.Crashes, Crash{Node: v, At: crashAt, Restart: restartAt})
		}
		w, err := NewNetwork(sc)
		if err != nil {
			t.Fatal(err)
		}
		st, err := w.Run()
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if st.ViewChanges < uint64((n-1)/3) {
			t.Fatalf("n=%d: highest view %d, want >= %d", n, st.ViewChanges, (n-1)/3)
		}
		if got := committedBetween(w, n-1, crashAt+2000, restartAt); got < 30 {
			t.Fatalf("n=%d: %d heights committed while f replicas were down, want >= 30", n, got)
		}
	}
}

// TestPartitionedReplicaRejoinsAcrossCheckpoints checks catch-up across stable checkpoints: a replica cut off while the others commit far beyond its window must fetch the blocks, move its window up and vote again; method: with n = 7, replica 6 is partitioned until GST while the other six commit many checkpoints; then two others crash, so the five left (a bare quorum) can commit only if replica 6 takes part.
func TestPartitionedReplicaRejoinsAcrossCheckpoints(t *testing.T) {
	const gst, crashAt, restartAt = 3000, 3500, 15_000
	sc := Scenario{Seed: 7, N: 7, GST: gst, MaxDelayMs: 10, DeltaMs: 10, Txs: 4, TimeoutTicks: 8, Heights: 1500,
		Partitions: []Partition{{Start: 0, End: gst, Groups: [][]int{{0, 1, 2, 3, 4, 5}, {6}}}},
		Crashes:    []Crash{{Node: 4, At: crashAt, Restart: restartAt}, {Node: 5, At: crashAt, Restart: restartAt}}}
	w, err := NewNetwork(sc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Run(); err != nil {
		t.Fatal(err)
	}
	if before := committedBetween(w, 0, 0, gst); before < 3*int(w.params.WindowHeights) {
		t.Fatalf("only %d heights before GST: replica 6 was not left behind its window", before)
	}
	if got := committedBetween(w, 6, crashAt+2000, restartAt); got < 30 {
		t.Fatalf("%d heights committed by the bare quorum with replica 6, want >= 30", got)
	}
}
