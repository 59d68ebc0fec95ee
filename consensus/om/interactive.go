package om

import "fmt"

// InteractiveConfig describes one interactive-consistency run from one
// node's point of view: every node is the commander of one OM(m) instance.
type InteractiveConfig struct {
	Nodes    int      // n
	Faults   int      // m
	Self     NodeID   // this node
	Instance uint64   // shared by the n instances; the path's first id tells them apart
	Strategy Strategy // nil is Loyal; see Config.Strategy
}

// Interactive runs the n OM(m) instances of interactive consistency for one
// node, in lockstep: one Tick advances them all, Step routes a message by
// its commander (the path's first id). When done, Vector holds one entry
// per node: this node's own value at its own index, the OM(m) decision
// elsewhere. It is not safe for concurrent use.
type Interactive struct {
	self      NodeID
	instances []*Node // by commander
	outbox    []Message
	vector    [][]byte
}

// NewInteractive returns the run for one node holding value.
func NewInteractive(cfg InteractiveConfig, value []byte) (*Interactive, error) {
	if cfg.Nodes < 1 || cfg.Nodes > NodesMax {
		return nil, fmt.Errorf("%w: n=%d, want 1..%d", ErrNodes, cfg.Nodes, NodesMax)
	}
	ic := &Interactive{
		self:      cfg.Self,
		instances: make([]*Node, cfg.Nodes),
		vector:    make([][]byte, cfg.Nodes),
	}
	for c := range ic.instances {
		nd, err := NewNode(Config{
			Nodes:     cfg.Nodes,
			Faults:    cfg.Faults,
			Self:      cfg.Self,
			Commander: NodeID(c),
			Instance:  cfg.Instance,
			Strategy:  cfg.Strategy,
		}, value)
		if err != nil {
			return nil, err
		}
		ic.instances[c] = nd
	}
	return ic, nil
}

// Reset starts over with a new value and strategy, reusing memory.
func (ic *Interactive) Reset(value []byte, strategy Strategy) error {
	for _, nd := range ic.instances {
		if err := nd.Reset(value, strategy); err != nil {
			return err
		}
	}
	ic.outbox = ic.outbox[:0]
	return nil
}

// Rounds is m+1, the number of message rounds.
func (ic *Interactive) Rounds() int { return ic.instances[0].Rounds() }

// Round is the current round, the same for every instance.
func (ic *Interactive) Round() int { return ic.instances[0].Round() }

// Done reports whether every instance has decided.
func (ic *Interactive) Done() bool { return ic.instances[0].Done() }

// Tick advances every instance by one round.
func (ic *Interactive) Tick() {
	ic.outbox = ic.outbox[:0]
	for _, nd := range ic.instances {
		nd.Tick()
		ic.outbox = append(ic.outbox, nd.Outbox()...)
	}
}

// Outbox returns the messages of every instance produced by the last Tick,
// valid until the next Tick.
func (ic *Interactive) Outbox() []Message { return ic.outbox }

// Step routes a message to the instance of its commander; errors are those
// of Node.Step.
func (ic *Interactive) Step(m Message) error {
	commander, ok := m.Commander()
	if !ok {
		return ErrPathLength
	}
	if int(commander) >= len(ic.instances) {
		return ErrNodeRange
	}
	return ic.instances[commander].Step(m)
}

// Vector returns the agreed vector once Done. Entry i is node i's value as
// this node decided it (nil is RETREAT: no or no agreed value). The slices
// are owned by the run and must not be modified.
func (ic *Interactive) Vector() ([][]byte, bool) {
	if !ic.Done() {
		return nil, false
	}
	for c, nd := range ic.instances {
		ic.vector[c], _ = nd.Decision()
	}
	return ic.vector, true
}

// PathSlots is the number of message paths of the run, across its n
// instances: PathSlot numbers them 0..PathSlots()-1.
func (ic *Interactive) PathSlots() int {
	return len(ic.instances) * ic.instances[0].tree.slots()
}

// PathSlot numbers a message path densely across the run's instances, so
// a caller can keep data per path in a flat slice of PathSlots() entries
// (the node keeps the signed envelope each path came in). It reports false
// for a path Step refuses for its shape alone: empty or longer than m+1,
// an id out of range or repeated, or one that passes through this node.
// Two paths share a slot only if they are equal.
func (ic *Interactive) PathSlot(path []NodeID) (int, bool) {
	commander, ok := Message{Path: path}.Commander()
	if !ok || int(commander) >= len(ic.instances) {
		return 0, false
	}
	nd := ic.instances[commander]
	if len(path) > nd.tree.rounds || checkPath(path, nd.cfg.Nodes, nd.cfg.Self) != nil {
		return 0, false
	}
	return int(commander)*nd.tree.slots() + nd.tree.index(path), true
}
