package om

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// traitorStrategies builds, for a set of traitors, each named strategy as
// the simulator would, from one seed.
func traitorStrategies(n int, set []NodeID, name string, seed uint64) []Strategy {
	rng := rand.New(rand.NewPCG(seed, 7))
	a, b := digestValue(100), digestValue(200)
	plan := NewPlan(n, set, a, b, rng)
	strategies := make([]Strategy, n)
	for _, id := range set {
		switch name {
		case StrategySplit:
			strategies[id] = &Split{A: a, B: b, Rand: rng}
		case StrategyLie:
			strategies[id] = Lie{Forged: b}
		case StrategySilent:
			strategies[id] = Silent{}
		case StrategyCollude:
			strategies[id] = Collude{Plan: plan}
		case StrategyRandom:
			strategies[id] = &Random{Rand: rng, Values: [][]byte{a, b, nil}, Silence: true}
		}
	}
	return strategies
}

func TestInteractiveConsistencyWithTraitors(t *testing.T) {
	// Goal: interactive consistency for n > 3m — every loyal node ends with
	// the same vector (IC1) holding every loyal node's real value (IC2), its
	// own entry included; method: n=4 m=1 and n=7 m=2 with distinct digests,
	// every traitor set up to m, every strategy, several seeds.
	for _, tc := range []struct{ n, m int }{{4, 1}, {7, 2}} {
		w, err := NewVectorNetwork(tc.n, tc.m)
		if err != nil {
			t.Fatal(err)
		}
		values := make([][]byte, tc.n)
		for i := range values {
			values[i] = digestValue(byte(i))
		}
		for _, set := range TraitorSets(tc.n, tc.m) {
			for _, name := range StrategyNames {
				for seed := range uint64(3) {
					res, err := w.Run(values, traitorStrategies(tc.n, set, name, seed))
					label := fmt.Sprintf("n=%d m=%d traitors %v %s seed %d", tc.n, tc.m, set, name, seed)
					if err != nil {
						t.Fatalf("%s: %v", label, err)
					}
					if !res.IC1 || !res.IC2 || len(res.Vectors) != tc.n-len(set) {
						t.Fatalf("%s: IC1=%v IC2=%v vectors %d", label, res.IC1, res.IC2, len(res.Vectors))
					}
					for _, v := range res.Vectors {
						if !bytes.Equal(v.Vector[v.Node], values[v.Node]) {
							t.Fatalf("%s: node %d's own entry is %x", label, v.Node, v.Vector[v.Node])
						}
					}
					if name != StrategySilent && name != StrategyRandom && res.Messages != tc.n*MessagesPerInstance(tc.n, tc.m) {
						t.Fatalf("%s: %d messages", label, res.Messages)
					}
				}
			}
		}
	}
}

func TestInteractiveTraitorEntriesAgree(t *testing.T) {
	// Goal: a traitor commander that splits the loyal nodes into camps still
	// ends with one agreed entry in every loyal vector (IC1 on the traitor's
	// own entry, the case IC2 says nothing about); method: n=7, m=2 with
	// traitors 1 and 4 colluding, and compare entries 1 and 4 across nodes.
	const n, m = 7, 2
	w, _ := NewVectorNetwork(n, m)
	values := make([][]byte, n)
	for i := range values {
		values[i] = digestValue(byte(i))
	}
	set := []NodeID{1, 4}
	res, err := w.Run(values, traitorStrategies(n, set, StrategyCollude, 5))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Vectors[1:] {
		for _, id := range set {
			if !bytes.Equal(v.Vector[id], res.Vectors[0].Vector[id]) {
				t.Fatalf("entry %d: node %d has %x, node %d has %x", id,
					v.Node, v.Vector[id], res.Vectors[0].Node, res.Vectors[0].Vector[id])
			}
		}
	}
}

func TestInteractiveVectorBeforeDone(t *testing.T) {
	// Goal: no vector is handed out before the last round closes; method:
	// tick a lone run through its rounds and ask at each step.
	ic, err := NewInteractive(InteractiveConfig{Nodes: 4, Faults: 1, Self: 2}, attack)
	if err != nil {
		t.Fatal(err)
	}
	for range ic.Rounds() + 1 {
		if _, ok := ic.Vector(); ok {
			t.Fatalf("vector at round %d", ic.Round())
		}
		ic.Tick()
	}
	vector, ok := ic.Vector()
	if !ok || !bytes.Equal(vector[2], attack) || vector[0] != nil {
		t.Fatalf("vector %x ok %v: want own value at 2 and RETREAT for silent peers", vector, ok)
	}
}

func TestPathSlotIsDenseAndOneToOne(t *testing.T) {
	// Goal: PathSlot gives every path a node can receive its own slot in
	// 0..PathSlots()-1 and refuses every path Step refuses for its shape;
	// method: enumerate all paths of n=4 m=1 and n=7 m=2 seen from node 2,
	// then try malformed ones.
	for _, tc := range []struct{ n, m int }{{4, 1}, {7, 2}} {
		const self = 2
		ic, err := NewInteractive(InteractiveConfig{Nodes: tc.n, Faults: tc.m, Self: self}, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := make(map[int][]NodeID)
		var walk func(path []NodeID)
		walk = func(path []NodeID) {
			slot, ok := ic.PathSlot(path)
			if !ok || slot < 0 || slot >= ic.PathSlots() {
				t.Fatalf("n=%d: path %v has slot %d (%v) of %d", tc.n, path, slot, ok, ic.PathSlots())
			}
			if other, dup := seen[slot]; dup {
				t.Fatalf("n=%d: paths %v and %v share slot %d", tc.n, other, path, slot)
			}
			seen[slot] = append([]NodeID(nil), path...)
			if len(path) == tc.m+1 {
				return
			}
			for id := range NodeID(tc.n) {
				if id != self && !bytes.Contains(nodeBytes(path), []byte{byte(id)}) {
					walk(append(path, id))
				}
			}
		}
		for c := range NodeID(tc.n) {
			if c != self {
				walk([]NodeID{c})
			}
		}
		long := make([]NodeID, tc.m+2)
		for i := range long {
			long[i] = NodeID(i + 3)
		}
		for _, path := range [][]NodeID{nil, {self}, {0, self}, {0, 1, 0}, {NodeID(tc.n)}, {0, NodeID(tc.n)}, long} {
			if slot, ok := ic.PathSlot(path); ok {
				t.Fatalf("n=%d: malformed path %v has slot %d", tc.n, path, slot)
			}
		}
	}
}
