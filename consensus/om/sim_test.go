package om

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestSimulateIsDeterministic(t *testing.T) {
	// Goal: same scenario and seed, same transcript and report; a different
	// seed changes what random traitors do; method: record every message of
	// two runs per strategy, single instance and interactive, and compare.
	record := func(sc Scenario) ([]string, Report) {
		var lines []string
		sc.Observe = func(round int, m Message) {
			lines = append(lines, fmt.Sprintf("%d %d>%d %v %x", round, m.From, m.To, m.Path, m.Value))
		}
		rep, err := Simulate(sc)
		if err != nil {
			t.Fatalf("%+v: %v", sc, err)
		}
		return lines, rep
	}
	for _, name := range StrategyNames {
		for _, interactive := range []bool{false, true} {
			sc := Scenario{Nodes: 7, Faults: 2, Traitors: []NodeID{0, 3}, Strategy: name,
				Seed: 42, Value: digestValue(1), Interactive: interactive}
			first, rep1 := record(sc)
			second, rep2 := record(sc)
			if !slices.Equal(first, second) || rep1.Transcript != rep2.Transcript ||
				rep1.IC1 != rep2.IC1 || rep1.IC2 != rep2.IC2 || rep1.Messages != rep2.Messages {
				t.Fatalf("%s interactive=%v: two runs of one seed differ", name, interactive)
			}
			if len(first) != rep1.Messages {
				t.Fatalf("%s: observed %d messages, report says %d", name, len(first), rep1.Messages)
			}
		}
	}
	random := Scenario{Nodes: 7, Faults: 2, Traitors: []NodeID{0, 3}, Strategy: StrategyRandom, Value: attack}
	random.Seed = 1
	_, one := record(random)
	random.Seed = 2
	_, two := record(random)
	if one.Transcript == two.Transcript {
		t.Fatalf("seeds 1 and 2 gave the same random transcript %x", one.Transcript)
	}
}

func TestSimulateRejectsBadScenarios(t *testing.T) {
	// Goal: a bad scenario is an error naming the problem, never a panic;
	// method: one defect per case.
	good := Scenario{Nodes: 4, Faults: 1, Traitors: []NodeID{1}, Strategy: StrategyLie}
	cases := []struct {
		name string
		edit func(sc *Scenario)
		want error
	}{
		{"good", func(*Scenario) {}, nil},
		{"no nodes", func(sc *Scenario) { sc.Nodes = 0 }, ErrNodes},
		{"too many nodes", func(sc *Scenario) { sc.Nodes = NodesMax + 1 }, ErrNodes},
		{"negative m", func(sc *Scenario) { sc.Faults = -1 }, ErrFaults},
		{"m too large", func(sc *Scenario) { sc.Faults = 4 }, ErrFaults},
		{"traitor out of range", func(sc *Scenario) { sc.Traitors = []NodeID{4} }, ErrTraitors},
		{"traitor twice", func(sc *Scenario) { sc.Traitors = []NodeID{2, 2} }, ErrTraitors},
		{"unknown strategy", func(sc *Scenario) { sc.Strategy = "bribe" }, ErrStrategy},
		{"oversize value", func(sc *Scenario) { sc.Value = make([]byte, ValueBytesMax+1) }, ErrValueTooLarge},
		{"tree too large", func(sc *Scenario) { sc.Nodes, sc.Faults = 16, 5 }, ErrTreeLarge},
	}
	for _, tc := range cases {
		for _, interactive := range []bool{false, true} {
			sc := good
			sc.Interactive = interactive
			tc.edit(&sc)
			if _, err := Simulate(sc); !errorIs(err, tc.want) {
				t.Errorf("%s (interactive=%v): %v, want %v", tc.name, interactive, err, tc.want)
			}
		}
	}
}

func TestSimulateReportsLoyalLieutenantsOnly(t *testing.T) {
	// Goal: the report lists each loyal lieutenant once, in id order, and
	// never a traitor or the commander; method: n=7 with traitors 0 and 5.
	rep, err := Simulate(Scenario{Nodes: 7, Faults: 2, Traitors: []NodeID{5, 0}, Strategy: StrategySplit, Value: attack})
	if err != nil {
		t.Fatal(err)
	}
	var ids []NodeID
	for _, d := range rep.Decisions {
		ids = append(ids, d.Node)
	}
	if !slices.Equal(ids, []NodeID{1, 2, 3, 4, 6}) {
		t.Fatalf("decisions for %v", ids)
	}
	if !rep.IC1 || !rep.IC2 {
		t.Fatalf("n=7 m=2: IC1=%v IC2=%v", rep.IC1, rep.IC2)
	}
}

func TestNetworkRunRejectsMismatchedInputs(t *testing.T) {
	// Goal: the simulators refuse inputs of the wrong size instead of
	// indexing past them; method: short strategy and value slices.
	w, _ := NewNetwork(4, 1, 0)
	if _, err := w.Run(attack, make([]Strategy, 3)); err == nil {
		t.Error("Network.Run accepted 3 strategies for 4 nodes")
	}
	v, _ := NewVectorNetwork(4, 1)
	if _, err := v.Run(make([][]byte, 3), make([]Strategy, 4)); err == nil {
		t.Error("VectorNetwork.Run accepted 3 values for 4 nodes")
	}
	oversize := strategyFunc(func([]NodeID, NodeID, []byte) ([]byte, bool) {
		return make([]byte, ValueBytesMax+1), true
	})
	if _, err := w.Run(attack, []Strategy{oversize, nil, nil, nil}); !errors.Is(err, ErrValueTooLarge) {
		t.Errorf("oversize traitor value: %v, want ErrValueTooLarge", err)
	}
}

func TestNetworksRejectBadSizes(t *testing.T) {
	// Goal: building a simulator with an impossible size is an error, not a
	// panic; method: negative and oversized n, m out of range.
	for _, tc := range []struct{ n, m int }{{-1, 0}, {0, 0}, {NodesMax + 1, 1}, {4, -1}, {4, 9}} {
		if _, err := NewNetwork(tc.n, tc.m, 0); err == nil {
			t.Errorf("NewNetwork(%d, %d) succeeded", tc.n, tc.m)
		}
		if _, err := NewVectorNetwork(tc.n, tc.m); err == nil {
			t.Errorf("NewVectorNetwork(%d, %d) succeeded", tc.n, tc.m)
		}
	}
	if _, err := NewNetwork(4, 1, 4); !errors.Is(err, ErrNodeRange) {
		t.Errorf("commander 4 of 4: %v", err)
	}
}

func TestNetworkReportsIC1Violation(t *testing.T) {
	// Goal: the checker every theorem test relies on can say "violated":
	// with more traitors than m, loyal lieutenants that disagree make IC1
	// fail; method: OM(1), n=4, the commander and lieutenant 3 both tell
	// lieutenant 1 A and everyone else B, so 1 decides A and 2 decides B.
	a, b := digestValue(1), digestValue(2)
	camps := strategyFunc(func(_ []NodeID, to NodeID, _ []byte) ([]byte, bool) {
		if to == 1 {
			return a, true
		}
		return b, true
	})
	res := runNetwork(t, 4, 1, a, []Strategy{camps, nil, nil, camps})
	if len(res.Decisions) != 2 || !bytes.Equal(res.Decisions[0].Value, a) || !bytes.Equal(res.Decisions[1].Value, b) {
		t.Fatalf("decisions %v, want 1: A and 2: B", res.Decisions)
	}
	if res.IC1 {
		t.Fatal("loyal lieutenants decided A and B, yet IC1 is reported to hold")
	}
}

func TestVectorNetworkReportsIC1AndIC2Violations(t *testing.T) {
	// Goal: the interactive-consistency checker can say "violated": IC1
	// fails when loyal vectors differ, IC2 when a loyal node's entry is not
	// its value; method: n=4, m=1 with two traitors (more than m), once
	// splitting the loyal nodes into camps, once relaying RETREAT for every
	// loyal value.
	a, b := digestValue(1), digestValue(2)
	values := [][]byte{a, a, a, a}
	w, err := NewVectorNetwork(4, 1)
	if err != nil {
		t.Fatal(err)
	}
	camps := strategyFunc(func(_ []NodeID, to NodeID, _ []byte) ([]byte, bool) {
		if to == 1 {
			return a, true
		}
		return b, true
	})
	res, err := w.Run(values, []Strategy{camps, nil, nil, camps})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(res.Vectors[0].Vector[0], res.Vectors[1].Vector[0]) {
		t.Fatalf("camps did not split the traitor's entry: %x and %x", res.Vectors[0].Vector[0], res.Vectors[1].Vector[0])
	}
	if res.IC1 {
		t.Fatal("loyal vectors differ, yet IC1 is reported to hold")
	}
	res, err = w.Run(values, []Strategy{nil, Lie{}, nil, Lie{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Vectors[1].Vector[0]; got != nil {
		t.Fatalf("node 2 holds %x for node 0, want RETREAT from the two liars", got)
	}
	if res.IC2 {
		t.Fatal("a loyal node's entry is RETREAT instead of its value, yet IC2 is reported to hold")
	}
}
