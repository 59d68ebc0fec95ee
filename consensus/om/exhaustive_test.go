package om

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
)

var (
	sampleSeed = flag.Uint64("om.seed", 20260901, "seed of the sampled OM(m) checks; printed on failure")
	sampleRun  = flag.Int("om.run", -1, "replay only this run of a sampled OM(m) check")
)

// tape enumerates every sequence of traitor choices depth first: a run
// reads its choices from the tape, taking 0 at any point not reached
// before, and advance moves to the next sequence like an odometer, so the
// choice tree is walked without knowing its shape in advance.
type tape struct {
	choices []uint8
	arity   []uint8
	pos     int
}

func (tp *tape) choose(arity int) int {
	if tp.pos == len(tp.choices) {
		tp.choices = append(tp.choices, 0)
		tp.arity = append(tp.arity, uint8(arity))
	}
	c := tp.choices[tp.pos]
	tp.pos++
	return int(c)
}

// advance moves to the next sequence; false once all were visited.
func (tp *tape) advance() bool {
	tp.pos = 0
	for i := len(tp.choices) - 1; i >= 0; i-- {
		if tp.choices[i]+1 < tp.arity[i] {
			tp.choices[i]++
			tp.choices, tp.arity = tp.choices[:i+1], tp.arity[:i+1]
			return true
		}
	}
	tp.choices, tp.arity = tp.choices[:0], tp.arity[:0]
	return false
}

// tapeTraitor sends, for each message, RETREAT, ATTACK or nothing, as the
// tape says: with binary values these are all a traitor can do.
type tapeTraitor struct{ tape *tape }

func (tt tapeTraitor) Send([]NodeID, NodeID, []byte) ([]byte, bool) {
	switch tt.tape.choose(3) {
	case 0:
		return retreat, true
	case 1:
		return attack, true
	}
	return nil, false
}

// exhaustive runs OM(m) for every traitor set of size up to m (commander
// included), both commander values and every traitor choice. It returns the
// number of runs and the first violation found, if any.
func exhaustive(t *testing.T, n, m int) (runs int, violation string) {
	t.Helper()
	w, err := NewNetwork(n, m, 0)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tape{}
	strategies := make([]Strategy, n)
	for _, set := range TraitorSets(n, m) {
		clear(strategies)
		for _, id := range set {
			strategies[id] = tapeTraitor{tape: tp}
		}
		for _, value := range [][]byte{retreat, attack} {
			for more := true; more; more = tp.advance() {
				res, err := w.Run(value, strategies)
				if err != nil {
					t.Fatal(err)
				}
				runs++
				if (!res.IC1 || !res.IC2) && violation == "" {
					violation = fmt.Sprintf("traitors %v value %x choices %v: IC1=%v IC2=%v decisions %v",
						set, value, tp.choices, res.IC1, res.IC2, res.Decisions)
				}
			}
		}
	}
	return runs, violation
}

func TestExhaustiveN4M1(t *testing.T) {
	// Goal: Theorem 1 for n=4, m=1 over the whole space — IC1 and IC2 hold
	// for every traitor (commander included, or none) and every choice of
	// RETREAT, ATTACK or silence on every traitor message; method:
	// enumerate with a choice tape and assert the exact number of runs, so
	// the enumeration cannot silently shrink.
	runs, violation := exhaustive(t, 4, 1)
	if violation != "" {
		t.Fatalf("violation: %s", violation)
	}
	// 2 values × (1 loyal run + traitor commander 3^3 + 3 traitor lieutenants × 3^2).
	if want := 2 * (1 + 27 + 3*9); runs != want {
		t.Fatalf("%d runs, want %d", runs, want)
	}
}

func TestExhaustiveN3M1FindsViolation(t *testing.T) {
	// Goal: the impossibility side for n = 3m, m=1 — some traitor choice
	// breaks IC1 or IC2, so the checker does fail when it must; method: the
	// same exhaustive search as for n=4, asserting that it finds a violation.
	runs, violation := exhaustive(t, 3, 1)
	if violation == "" {
		t.Fatalf("no violation in %d runs of OM(1) with n=3", runs)
	}
	t.Logf("n=3 m=1: %s", violation)
}

func TestFindViolationWhenNIsAtMost3M(t *testing.T) {
	// Goal: the paper's bound on a table — the strategy search finds a run
	// that breaks IC1 or IC2 for n = 3m (n=3, m=1 and n=6, m=2) and none for
	// n = 3m+1 (n=4, m=1 and n=7, m=2); method: FindViolation over every
	// traitor set, strategy and a few seeds, and a replay of what it found.
	for _, tc := range []struct {
		n, m int
		want bool
	}{{3, 1, true}, {6, 2, true}, {4, 1, false}, {7, 2, false}} {
		sc, rep, found, err := FindViolation(tc.n, tc.m, digestValue(3), 4)
		if err != nil {
			t.Fatal(err)
		}
		if found != tc.want {
			t.Fatalf("n=%d m=%d: found=%v, want %v (%+v → %+v)", tc.n, tc.m, found, tc.want, sc, rep)
		}
		if !found {
			continue
		}
		replay, err := Simulate(sc)
		if err != nil || replay.IC1 && replay.IC2 || replay.Transcript != rep.Transcript {
			t.Fatalf("n=%d m=%d: violation %+v did not replay: %+v, %v", tc.n, tc.m, sc, replay, err)
		}
		t.Logf("n=%d m=%d: traitors %v strategy %s seed %d breaks IC1=%v IC2=%v",
			tc.n, tc.m, sc.Traitors, sc.Strategy, sc.Seed, rep.IC1, rep.IC2)
	}
}

func TestSampledN7M2(t *testing.T) {
	// Goal: Theorem 1 for n=7, m=2, where the space is too large to walk —
	// IC1 and IC2 hold on 100,000 seeded random traitor behaviours; method:
	// cycle through all 29 traitor sets of size ≤ 2 (commander included),
	// give every traitor message a random RETREAT, ATTACK or silence, and
	// seed each run from (seed, run) so any failure replays alone.
	const n, m, runs = 7, 2, 100_000
	sets := TraitorSets(n, m)
	w, err := NewNetwork(n, m, 0)
	if err != nil {
		t.Fatal(err)
	}
	src := rand.NewPCG(0, 0)
	rng := rand.New(src)
	traitor := &Random{Rand: rng, Values: [][]byte{retreat, attack}, Silence: true}
	strategies := make([]Strategy, n)
	first, last := 0, runs
	if *sampleRun >= 0 {
		first, last = *sampleRun, *sampleRun+1
	}
	for run := first; run < last; run++ {
		src.Seed(*sampleSeed, uint64(run))
		set := sets[run%len(sets)]
		clear(strategies)
		for _, id := range set {
			strategies[id] = traitor
		}
		value := [][]byte{retreat, attack}[rng.IntN(2)]
		res, err := w.Run(value, strategies)
		if err != nil {
			t.Fatalf("seed %d run %d: %v", *sampleSeed, run, err)
		}
		if !res.IC1 || !res.IC2 {
			t.Fatalf("seed %d run %d traitors %v: IC1=%v IC2=%v decisions %v\nreplay: go test ./consensus/om -run TestSampledN7M2 -om.seed=%d -om.run=%d",
				*sampleSeed, run, set, res.IC1, res.IC2, res.Decisions, *sampleSeed, run)
		}
	}
}
