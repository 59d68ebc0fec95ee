package om

import (
	"bytes"
	"fmt"
)

// Decision is what one loyal lieutenant decided in a simulated instance.
type Decision struct {
	Node  NodeID
	Value []byte
}

// Result is the outcome of one simulated OM(m) instance.
type Result struct {
	Decisions []Decision // loyal lieutenants, ascending; valid until the next Run
	IC1       bool       // all loyal lieutenants decided the same value
	IC2       bool       // if the commander is loyal, they decided its value
	Messages  int        // messages actually sent (silent traitors send fewer)
}

// Network simulates one OM(m) instance over synchronous rounds: every node
// ticks, then every message of the round is delivered. Nothing is random
// but the traitors' strategies, so a run is a pure function of its inputs.
type Network struct {
	nodes     []*Node
	commander NodeID
	// Observe, when set, sees every message sent, in delivery order.
	Observe   func(round int, m Message)
	decisions []Decision
}

// NewNetwork builds the n nodes of one instance commanded by commander.
func NewNetwork(nodes, faults int, commander NodeID) (*Network, error) {
	if _, err := newShape(nodes, faults); err != nil {
		return nil, err
	}
	w := &Network{commander: commander, nodes: make([]*Node, nodes)}
	for id := range nodes {
		nd, err := NewNode(Config{Nodes: nodes, Faults: faults, Self: NodeID(id), Commander: commander}, nil)
		if err != nil {
			return nil, err
		}
		w.nodes[id] = nd
	}
	return w, nil
}

// Run runs the instance once. strategies has one entry per node: nil for a
// loyal node, the traitor's strategy otherwise. The commander holds value.
func (w *Network) Run(value []byte, strategies []Strategy) (Result, error) {
	if len(strategies) != len(w.nodes) {
		return Result{}, fmt.Errorf("om: simulate: %d strategies for %d nodes", len(strategies), len(w.nodes))
	}
	for id, nd := range w.nodes {
		if err := nd.Reset(value, strategies[id]); err != nil {
			return Result{}, fmt.Errorf("om: simulate: node %d: %w", id, err)
		}
	}
	messages, err := runRounds(w.nodes, w.Observe)
	if err != nil {
		return Result{}, err
	}
	res := Result{Messages: messages, IC1: true, IC2: true}
	w.decisions = w.decisions[:0]
	for id, nd := range w.nodes {
		if strategies[id] != nil || NodeID(id) == w.commander {
			continue
		}
		decided, _ := nd.Decision()
		if len(w.decisions) > 0 && !bytes.Equal(decided, w.decisions[0].Value) {
			res.IC1 = false
		}
		if strategies[w.commander] == nil && !bytes.Equal(decided, value) {
			res.IC2 = false
		}
		w.decisions = append(w.decisions, Decision{Node: NodeID(id), Value: decided})
	}
	res.Decisions = w.decisions
	return res, nil
}

// stepper is what the round driver needs of a Node or an Interactive.
type stepper interface {
	Tick()
	Outbox() []Message
	Step(Message) error
	Rounds() int
}

// runRounds drives the nodes through every round and the final decision
// and returns the number of messages sent. All nodes tick before any
// message of the round is delivered, as in a synchronous system.
func runRounds[S stepper](nodes []S, observe func(int, Message)) (int, error) {
	messages := 0
	for round := 1; round <= nodes[0].Rounds()+1; round++ {
		for _, nd := range nodes {
			nd.Tick()
		}
		for _, nd := range nodes {
			for _, m := range nd.Outbox() {
				messages++
				if observe != nil {
					observe(round, m)
				}
				if int(m.To) >= len(nodes) {
					return 0, fmt.Errorf("om: simulate: message to %d: %w", m.To, ErrNodeRange)
				}
				if err := nodes[m.To].Step(m); err != nil {
					return 0, fmt.Errorf("om: simulate: %d→%d path %v: %w", m.From, m.To, m.Path, err)
				}
			}
		}
	}
	return messages, nil
}

// VectorDecision is the vector one loyal node ends an interactive
// consistency run with.
type VectorDecision struct {
	Node   NodeID
	Vector [][]byte
}

// VectorResult is the outcome of one simulated interactive-consistency run.
type VectorResult struct {
	Vectors  []VectorDecision // loyal nodes, ascending; valid until the next Run
	IC1      bool             // every loyal node has the same vector
	IC2      bool             // every loyal node's entry is its real value, everywhere
	Messages int
}

// VectorNetwork simulates interactive consistency: n nodes, each the
// commander of one OM(m) instance, all instances in lockstep.
type VectorNetwork struct {
	nodes   []*Interactive
	Observe func(round int, m Message)
	vectors []VectorDecision
}

// NewVectorNetwork builds the n nodes of one run.
func NewVectorNetwork(nodes, faults int) (*VectorNetwork, error) {
	if _, err := newShape(nodes, faults); err != nil {
		return nil, err
	}
	w := &VectorNetwork{nodes: make([]*Interactive, nodes)}
	for id := range nodes {
		ic, err := NewInteractive(InteractiveConfig{Nodes: nodes, Faults: faults, Self: NodeID(id)}, nil)
		if err != nil {
			return nil, err
		}
		w.nodes[id] = ic
	}
	return w, nil
}

// Run runs interactive consistency once: node i holds values[i] and follows
// strategies[i] (nil: loyal).
func (w *VectorNetwork) Run(values [][]byte, strategies []Strategy) (VectorResult, error) {
	if len(values) != len(w.nodes) || len(strategies) != len(w.nodes) {
		return VectorResult{}, fmt.Errorf("om: simulate: %d values and %d strategies for %d nodes",
			len(values), len(strategies), len(w.nodes))
	}
	for id, ic := range w.nodes {
		if err := ic.Reset(values[id], strategies[id]); err != nil {
			return VectorResult{}, fmt.Errorf("om: simulate: node %d: %w", id, err)
		}
	}
	messages, err := runRounds(w.nodes, w.Observe)
	if err != nil {
		return VectorResult{}, err
	}
	res := VectorResult{Messages: messages, IC1: true, IC2: true}
	w.vectors = w.vectors[:0]
	for id, ic := range w.nodes {
		if strategies[id] != nil {
			continue
		}
		vector, _ := ic.Vector()
		if len(w.vectors) > 0 && !equalVectors(vector, w.vectors[0].Vector) {
			res.IC1 = false
		}
		for j, v := range vector {
			if strategies[j] == nil && !bytes.Equal(v, values[j]) {
				res.IC2 = false
			}
		}
		w.vectors = append(w.vectors, VectorDecision{Node: NodeID(id), Vector: vector})
	}
	res.Vectors = w.vectors
	return res, nil
}

func equalVectors(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
