package om

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Traitor strategies by name, as the simulator and the CLI know them.
const (
	StrategySplit   = "split"   // tell different receivers different values
	StrategyLie     = "lie"     // loyal as commander, lie when relaying
	StrategySilent  = "silent"  // send nothing
	StrategyCollude = "collude" // all traitors split the loyal nodes into the same two camps
	StrategyRandom  = "random"  // every message a random value or silence
)

// StrategyNames lists the strategies a Scenario accepts.
var StrategyNames = []string{StrategySplit, StrategyLie, StrategySilent, StrategyCollude, StrategyRandom}

// ErrStrategy is returned for a strategy name that is not in StrategyNames.
var ErrStrategy = errors.New("om: unknown traitor strategy")

// ErrTraitors is returned for a traitor list with an id out of range or a
// repeated id.
var ErrTraitors = errors.New("om: bad traitor list")

// Scenario is one simulated run, fully determined by its fields.
type Scenario struct {
	Nodes    int      // n
	Faults   int      // m
	Traitors []NodeID // node 0 is the commander of a single instance
	Strategy string   // one of StrategyNames; every traitor follows it
	Seed     uint64   // feeds every random choice of the traitors
	// Value is the commander's value; in an interactive run every node
	// holds it, as validators holding the same checkpoint root do.
	Value       []byte
	Interactive bool
	// Observe, when set, sees every message sent, in delivery order.
	Observe func(round int, m Message)
}

// Report is what a Scenario produced.
type Report struct {
	Decisions  []Decision       // single instance: each loyal lieutenant
	Vectors    []VectorDecision // interactive: each loyal node
	IC1, IC2   bool
	Messages   int    // messages sent
	Transcript uint64 // FNV-1a digest of every message sent, in order
}

// SimulateMessagesMax bounds the messages of one simulated run, which are
// all held until the run ends (each a few hundred bytes with its path and
// the trees it fills): 4M messages take about a gigabyte. Each tree is
// bounded (TreeNodesMax), but an interactive run has n² of them: n = 64
// and m = 2 would send 15.5M messages and need about 3.5 GB.
const SimulateMessagesMax = 1 << 22

// Messages is how many messages OM(m) among n generals sends when each
// sends what the algorithm asks of it: round r
// relays every path of r distinct generals from the commander to each
// general not on it, (n-1)(n-2)…(n-r) messages, for r = 1..m+1; an
// interactive run is n instances. It saturates at math.MaxUint64 rather
// than overflow.
func Messages(n, m int, interactive bool) uint64 {
	if n < 2 || m < 0 {
		return 0
	}
	var total, round uint64 = 0, 1
	for r := 1; r <= m+1 && r < n; r++ {
		round = mulSat(round, uint64(n-r))
		total = addSat(total, round)
	}
	if interactive {
		total = mulSat(total, uint64(n))
	}
	return total
}

func mulSat(a, b uint64) uint64 {
	if b != 0 && a > math.MaxUint64/b {
		return math.MaxUint64
	}
	return a * b
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// Simulate runs a scenario. Same scenario, same report. A run that would
// send more than SimulateMessagesMax messages is refused (ErrRunLarge)
// before anything is built.
func Simulate(sc Scenario) (Report, error) {
	// The shape's own errors (n, m, the tree) say more; only a run of
	// trees that each fit can be too large as a whole.
	if _, err := newShape(sc.Nodes, sc.Faults); err != nil {
		return Report{}, err
	}
	if k := Messages(sc.Nodes, sc.Faults, sc.Interactive); k > SimulateMessagesMax {
		return Report{}, fmt.Errorf("%w: n = %d, m = %d%s sends %d messages, at most %d", ErrRunLarge, sc.Nodes, sc.Faults,
			map[bool]string{true: " interactive", false: ""}[sc.Interactive], k, SimulateMessagesMax)
	}
	strategies, err := sc.strategies()
	if err != nil {
		return Report{}, err
	}
	digest := transcriptDigest(fnvOffset)
	observe := func(round int, m Message) {
		digest.add(round, m)
		if sc.Observe != nil {
			sc.Observe(round, m)
		}
	}
	if sc.Interactive {
		return simulateVector(sc, strategies, observe, &digest)
	}
	w, err := NewNetwork(sc.Nodes, sc.Faults, 0)
	if err != nil {
		return Report{}, err
	}
	w.Observe = observe
	res, err := w.Run(sc.Value, strategies)
	if err != nil {
		return Report{}, err
	}
	return Report{
		Decisions: res.Decisions, IC1: res.IC1, IC2: res.IC2,
		Messages: res.Messages, Transcript: uint64(digest),
	}, nil
}

func simulateVector(sc Scenario, strategies []Strategy, observe func(int, Message), digest *transcriptDigest) (Report, error) {
	w, err := NewVectorNetwork(sc.Nodes, sc.Faults)
	if err != nil {
		return Report{}, err
	}
	w.Observe = observe
	values := make([][]byte, sc.Nodes)
	for i := range values {
		values[i] = sc.Value
	}
	res, err := w.Run(values, strategies)
	if err != nil {
		return Report{}, err
	}
	return Report{
		Vectors: res.Vectors, IC1: res.IC1, IC2: res.IC2,
		Messages: res.Messages, Transcript: uint64(*digest),
	}, nil
}

// strategies builds one strategy per node (nil for the loyal ones) from the
// scenario's name and seed. The traitors tell the commander's value or a
// different one (otherValue), so with binary values every lie matters.
func (sc Scenario) strategies() ([]Strategy, error) {
	if sc.Nodes < 1 || sc.Nodes > NodesMax {
		return nil, fmt.Errorf("%w: n=%d, want 1..%d", ErrNodes, sc.Nodes, NodesMax)
	}
	if err := checkTraitors(sc.Traitors, sc.Nodes); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(sc.Seed, 0x6f6d)) // "om": a fixed stream for the seed
	a, b := sc.Value, otherValue(sc.Value, nil)
	var plan *Plan
	if sc.Strategy == StrategyCollude {
		plan = NewPlan(sc.Nodes, sc.Traitors, a, b, rng)
	}
	strategies := make([]Strategy, sc.Nodes)
	for _, t := range sc.Traitors {
		switch sc.Strategy {
		case StrategySplit:
			strategies[t] = &Split{A: a, B: b, Rand: rng}
		case StrategyLie:
			strategies[t] = Lie{}
		case StrategySilent:
			strategies[t] = Silent{}
		case StrategyCollude:
			strategies[t] = Collude{Plan: plan}
		case StrategyRandom:
			strategies[t] = &Random{Rand: rng, Values: [][]byte{a, b}, Silence: true}
		default:
			return nil, fmt.Errorf("%w: %q, want one of %v", ErrStrategy, sc.Strategy, StrategyNames)
		}
	}
	return strategies, nil
}

func checkTraitors(traitors []NodeID, nodes int) error {
	var seen uint64
	for _, t := range traitors {
		if int(t) >= nodes {
			return fmt.Errorf("%w: id %d, want 0..%d", ErrTraitors, t, nodes-1)
		}
		if seen&idBit(t) != 0 {
			return fmt.Errorf("%w: id %d repeated", ErrTraitors, t)
		}
		seen |= idBit(t)
	}
	return nil
}

// FindViolation searches, in a fixed order, for a scenario that breaks IC1
// or IC2 of a single instance: every traitor set of size 1..m (commander
// included), every strategy, seeds 0..seeds-1. For n > 3m it finds nothing;
// for n <= 3m it shows the paper's impossibility on a concrete run.
func FindViolation(nodes, faults int, value []byte, seeds int) (Scenario, Report, bool, error) {
	for _, traitors := range TraitorSets(nodes, faults) {
		if len(traitors) == 0 {
			continue
		}
		for _, name := range StrategyNames {
			for seed := range seeds {
				sc := Scenario{Nodes: nodes, Faults: faults, Traitors: traitors,
					Strategy: name, Seed: uint64(seed), Value: value}
				rep, err := Simulate(sc)
				if err != nil {
					return Scenario{}, Report{}, false, err
				}
				if !rep.IC1 || !rep.IC2 {
					return sc, rep, true, nil
				}
			}
		}
	}
	return Scenario{}, Report{}, false, nil
}

// TraitorSets lists every set of at most size ids out of 0..nodes-1, by size
// then lexicographically, starting with the empty set.
func TraitorSets(nodes, size int) [][]NodeID {
	sets := [][]NodeID{{}}
	for k := 1; k <= size && k <= nodes; k++ {
		sets = appendCombinations(sets, make([]NodeID, 0, k), 0, nodes, k)
	}
	return sets
}

func appendCombinations(sets [][]NodeID, prefix []NodeID, from, nodes, k int) [][]NodeID {
	if len(prefix) == k {
		return append(sets, slices.Clone(prefix))
	}
	for id := from; id < nodes; id++ {
		sets = appendCombinations(sets, append(prefix, NodeID(id)), id+1, nodes, k)
	}
	return sets
}

// transcriptDigest is FNV-1a over every message sent, so two runs can be
// compared for determinism without keeping their transcripts.
type transcriptDigest uint64

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func (d *transcriptDigest) add(round int, m Message) {
	d.addByte(byte(round))
	d.addByte(byte(m.From))
	d.addByte(byte(m.To))
	d.addByte(byte(len(m.Path)))
	for _, id := range m.Path {
		d.addByte(byte(id))
	}
	d.addByte(byte(len(m.Value)))
	for _, b := range m.Value {
		d.addByte(b)
	}
}

func (d *transcriptDigest) addByte(b byte) {
	*d = (*d ^ transcriptDigest(b)) * fnvPrime
}
