package om

import (
	"bytes"
	"fmt"
)

// Limits. Every input and every table in this package is bounded by one of
// these.
const (
	// NodesMax bounds n so that a set of node ids is one uint64.
	NodesMax = 64
	// ValueBytesMax bounds a value: a block or checkpoint digest fits.
	ValueBytesMax = 64
	// TreeNodesMax bounds the EIG tree of one instance (paths of length
	// 1..m+1), hence the messages a node accepts per instance and the memory
	// a traitor can make it hold (TreeNodesMax × ValueBytesMax). With m = f
	// it admits every n up to 15.
	TreeNodesMax = 1 << 15
	// PathIDsMax bounds a path: distinct ids, never the receiver.
	PathIDsMax = NodesMax - 1
)

// NodeID numbers the validators 0..n-1, the same on every node.
type NodeID uint8

// Config describes one OM(m) instance from one node's point of view.
type Config struct {
	Nodes     int    // n, the number of generals
	Faults    int    // m, the traitors tolerated; the instance runs m+1 rounds
	Self      NodeID // this node
	Commander NodeID // the general whose value is being agreed on
	Instance  uint64 // names the instance on the wire (e.g. checkpoint height)
	// Strategy overrides what the node sends; nil is Loyal. Only the
	// simulator and tests set it: a validator is always loyal to itself.
	Strategy Strategy
}

// valueRef names an interned value. A node keeps each distinct value once
// and its tree holds refs, so the tree is a flat []valueRef.
type valueRef int32

const (
	refMissing valueRef = -1 // no message arrived for this path (yet)
	refDefault valueRef = 0  // the default value RETREAT: empty
)

// Node runs one OM(m) instance for one node. It is not safe for concurrent
// use; see the package documentation for the caller's duties.
type Node struct {
	cfg      Config
	tree     shape
	strategy Strategy
	round    int // 0 before the first Tick, m+2 once decided

	held     []valueRef // per tree slot: the value received for that path
	values   [][]byte   // interned values; values[refDefault] is nil
	valueRef map[string]valueRef
	lastRef  valueRef // the ref intern returned last
	own      valueRef // the commander's own value

	outbox   []Message
	pathBuf  []NodeID   // backing store of the outbox paths
	walk     []NodeID   // the path being visited by relay and resolve
	votes    []valueRef // stack of majority inputs during resolve
	decision valueRef
}

// NewNode returns a node for one instance. value is the commander's value
// and is ignored unless Self is the commander. A nil Strategy is Loyal.
func NewNode(cfg Config, value []byte) (*Node, error) {
	tree, err := newShape(cfg.Nodes, cfg.Faults)
	if err != nil {
		return nil, err
	}
	if int(cfg.Self) >= cfg.Nodes || int(cfg.Commander) >= cfg.Nodes {
		return nil, fmt.Errorf("%w: self %d, commander %d, n=%d", ErrNodeRange, cfg.Self, cfg.Commander, cfg.Nodes)
	}
	nd := &Node{
		cfg:      cfg,
		tree:     tree,
		held:     make([]valueRef, tree.slots()),
		valueRef: make(map[string]valueRef),
		walk:     make([]NodeID, 0, tree.rounds+1),
	}
	if err := nd.Reset(value, cfg.Strategy); err != nil {
		return nil, err
	}
	return nd, nil
}

// Reset starts the instance over with a new commander value and strategy,
// reusing the node's memory; the simulator runs many instances this way.
func (nd *Node) Reset(value []byte, strategy Strategy) error {
	if len(value) > ValueBytesMax {
		return fmt.Errorf("%w: %d bytes", ErrValueTooLarge, len(value))
	}
	if strategy == nil {
		strategy = Loyal{}
	}
	nd.strategy = strategy
	nd.round = 0
	for i := range nd.held {
		nd.held[i] = refMissing
	}
	clear(nd.valueRef)
	nd.values = append(nd.values[:0], nil)
	nd.valueRef[""] = refDefault
	nd.lastRef = refDefault
	nd.own = refDefault
	if nd.cfg.Self == nd.cfg.Commander {
		nd.own = nd.intern(value)
	}
	nd.outbox, nd.pathBuf = nd.outbox[:0], nd.pathBuf[:0]
	nd.decision = refMissing
	return nil
}

// Rounds is m+1, the number of message rounds.
func (nd *Node) Rounds() int { return nd.tree.rounds }

// Round is the current round: 0 before the first Tick, Rounds()+1 once done.
func (nd *Node) Round() int { return nd.round }

// Done reports whether the node has decided.
func (nd *Node) Done() bool { return nd.round > nd.tree.rounds }

// Decision returns the node's decision once Done: the commander's value as
// the node sees it, or nil (RETREAT) by default. The commander decides its
// own value. The slice is owned by the node and must not be modified.
func (nd *Node) Decision() ([]byte, bool) {
	if !nd.Done() {
		return nil, false
	}
	return nd.values[nd.decision], true
}

// Outbox returns the messages produced by the last Tick, valid until the
// next Tick.
func (nd *Node) Outbox() []Message { return nd.outbox }

// Tick ends the current round and starts the next: it emits the messages of
// the new round, or decides after the last one. Ticking a decided node does
// nothing, so a caller may tick all instances uniformly.
func (nd *Node) Tick() {
	nd.outbox, nd.pathBuf = nd.outbox[:0], nd.pathBuf[:0]
	switch {
	case nd.Done():
		return
	case nd.round == nd.tree.rounds:
		nd.round++
		nd.decide()
		return
	}
	nd.round++
	if nd.round == 1 {
		nd.sendAsCommander()
		return
	}
	if nd.cfg.Self != nd.cfg.Commander {
		nd.relay(nd.round - 1)
	}
}

// Step accepts one message of the current round. It never panics on input:
// a malformed, misaddressed, late, early or duplicate message is rejected
// with one of the sentinel errors and leaves the node unchanged.
func (nd *Node) Step(m Message) error {
	if err := nd.check(m); err != nil {
		return err
	}
	slot := nd.tree.index(m.Path)
	if nd.held[slot] != refMissing {
		return ErrDuplicate
	}
	nd.held[slot] = nd.intern(m.Value)
	return nil
}

// check validates a message against this instance, in the order of cheapest
// and most telling first.
func (nd *Node) check(m Message) error {
	if m.Instance != nd.cfg.Instance {
		return ErrInstance
	}
	if m.To != nd.cfg.Self {
		return ErrReceiver
	}
	if len(m.Value) > ValueBytesMax {
		return ErrValueTooLarge
	}
	if len(m.Path) == 0 || len(m.Path) > nd.tree.rounds {
		return ErrPathLength
	}
	if m.Path[0] != nd.cfg.Commander {
		return ErrCommander
	}
	if err := checkPath(m.Path, nd.cfg.Nodes, nd.cfg.Self); err != nil {
		return err
	}
	if m.From != m.Path[len(m.Path)-1] {
		return ErrSender
	}
	switch {
	case len(m.Path) < nd.round:
		return ErrRoundLate
	case len(m.Path) > nd.round:
		return ErrRoundEarly
	}
	return nil
}

// checkPath verifies that a path holds distinct in-range ids and does not
// pass through its receiver (a loyal node never relays to a node already on
// the path, so such a path is forged).
func checkPath(path []NodeID, nodes int, receiver NodeID) error {
	var used uint64
	for _, id := range path {
		switch {
		case int(id) >= nodes:
			return ErrNodeRange
		case used&idBit(id) != 0:
			return ErrPathRepeat
		case id == receiver:
			return ErrPathReceiver
		}
		used |= idBit(id)
	}
	return nil
}

// intern returns the ref of a value, copying it on first sight. Lookups by
// string(value) do not allocate; the table is bounded by the tree's slots
// because each slot is filled at most once.
func (nd *Node) intern(value []byte) valueRef {
	// Consecutive messages mostly carry the same value: try it before the map.
	if bytes.Equal(nd.values[nd.lastRef], value) {
		return nd.lastRef
	}
	if ref, ok := nd.valueRef[string(value)]; ok {
		nd.lastRef = ref
		return ref
	}
	kept := bytes.Clone(value)
	ref := valueRef(len(nd.values))
	nd.values = append(nd.values, kept)
	nd.valueRef[string(kept)] = ref
	nd.lastRef = ref
	return ref
}

// valueAt is what the node holds for a path: the value received, or the
// default when nothing arrived (paper: "or RETREAT if he receives no value").
func (nd *Node) valueAt(path []NodeID) valueRef {
	ref := nd.held[nd.tree.index(path)]
	if ref == refMissing {
		return refDefault
	}
	return ref
}
