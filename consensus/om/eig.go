package om

import (
	"fmt"
	"math"
	"math/bits"
)

// shape is the layout of one instance's EIG (exponential information
// gathering) tree: one slot per possible message path. A path of length k is
// the commander followed by k-1 distinct other ids, so level k has
// (n-1)(n-2)…(n-k+1) slots. Slots are numbered densely, level by level, so
// a node's state is a flat slice and Step does no map lookups.
type shape struct {
	nodes  int // n
	rounds int // m+1, the longest path
	// levelStart[k] is the slot of the first path of length k, for
	// k = 1..rounds; levelStart[rounds+1] is the number of slots.
	levelStart []int
}

func newShape(nodes, faults int) (shape, error) {
	if nodes < 1 || nodes > NodesMax {
		return shape{}, fmt.Errorf("%w: n=%d, want 1..%d", ErrNodes, nodes, NodesMax)
	}
	if faults < 0 || faults >= nodes {
		return shape{}, fmt.Errorf("%w: m=%d, want 0..n-1=%d", ErrFaults, faults, nodes-1)
	}
	rounds := faults + 1
	s := shape{nodes: nodes, rounds: rounds, levelStart: make([]int, rounds+2)}
	start, size := 0, 1
	for k := 1; k <= rounds; k++ {
		s.levelStart[k] = start
		start += size
		if start > TreeNodesMax {
			return shape{}, fmt.Errorf("%w: n=%d m=%d", ErrTreeLarge, nodes, faults)
		}
		size *= nodes - k // the next hop is any id not already on the path
	}
	s.levelStart[rounds+1] = start
	return s, nil
}

// slots is the number of paths in the tree.
func (s *shape) slots() int { return s.levelStart[s.rounds+1] }

// index returns the slot of a path. The path must be well formed (checked by
// the caller): ids in range, distinct, length 1..rounds. Each hop is numbered
// by its rank among the ids not yet on the path, which makes the numbering
// a mixed-radix number and therefore dense and collision-free.
func (s *shape) index(path []NodeID) int {
	used := idBit(path[0])
	slot := 0
	for j := 1; j < len(path); j++ {
		id := path[j]
		rank := int(id) - bits.OnesCount64(used&(idBit(id)-1))
		slot = slot*(s.nodes-j) + rank
		used |= idBit(id)
	}
	return s.levelStart[len(path)] + slot
}

// idBit is the bit of id in a set of node ids; NodesMax <= 64 makes a set one
// word, so path checks never allocate.
func idBit(id NodeID) uint64 { return 1 << id }

// majority returns the value held by more than half of refs, or the default
// value when no value has a strict majority, as the paper's majority
// function does. Boyer–Moore voting finds the only possible candidate in one
// pass; a second pass confirms it, so the result never depends on order.
func majority(refs []valueRef) valueRef {
	candidate, lead := refDefault, 0
	for _, r := range refs {
		switch {
		case lead == 0:
			candidate, lead = r, 1
		case r == candidate:
			lead++
		default:
			lead--
		}
	}
	count := 0
	for _, r := range refs {
		if r == candidate {
			count++
		}
	}
	if 2*count > len(refs) {
		return candidate
	}
	return refDefault
}

// MessagesPerInstance is the number of messages one OM(m) instance sends
// among n nodes when nobody is silent, as the paper counts it:
// (n-1) + (n-1)(n-2) + … + (n-1)(n-2)…(n-m-1).
func MessagesPerInstance(nodes, faults int) int {
	return int(min(Messages(nodes, faults, false), math.MaxInt))
}

// sendAsCommander is round 1: OM(m) step 1, the commander sends its value
// to every lieutenant.
func (nd *Node) sendAsCommander() {
	if nd.cfg.Self != nd.cfg.Commander {
		return
	}
	nd.walk = append(nd.walk[:0], nd.cfg.Self)
	for to := range nd.cfg.Nodes {
		if NodeID(to) != nd.cfg.Self {
			nd.emit(nd.walk, NodeID(to), nd.own)
		}
	}
}

// relay is round length+1: OM(m) step 2 applied recursively. For every path
// of the given length that ends before this node, the node acts as the
// commander of the sub-instance OM(m-length) and sends the value it holds
// for that path to every node not yet on the path.
func (nd *Node) relay(length int) {
	nd.walk = append(nd.walk[:0], nd.cfg.Commander)
	nd.relayFrom(length, idBit(nd.cfg.Commander)|idBit(nd.cfg.Self))
}

// relayFrom extends nd.walk depth first; used holds the ids on the walk and
// this node, so neither is ever a next hop or a receiver.
func (nd *Node) relayFrom(length int, used uint64) {
	depth := len(nd.walk)
	if depth == length {
		held := nd.valueAt(nd.walk)
		nd.walk = append(nd.walk, nd.cfg.Self)
		for to := range nd.cfg.Nodes {
			if used&idBit(NodeID(to)) == 0 {
				nd.emit(nd.walk, NodeID(to), held)
			}
		}
		nd.walk = nd.walk[:depth]
		return
	}
	for id := range nd.cfg.Nodes {
		if used&idBit(NodeID(id)) != 0 {
			continue
		}
		nd.walk = append(nd.walk, NodeID(id))
		nd.relayFrom(length, used|idBit(NodeID(id)))
		nd.walk = nd.walk[:depth]
	}
}

// emit queues one message after the strategy has had its say: a loyal node
// sends the value it holds, a traitor may change it or stay silent.
func (nd *Node) emit(path []NodeID, to NodeID, held valueRef) {
	value, send := nd.strategy.Send(path, to, nd.values[held])
	if !send {
		return
	}
	start := len(nd.pathBuf)
	nd.pathBuf = append(nd.pathBuf, path...)
	end := len(nd.pathBuf)
	nd.outbox = append(nd.outbox, Message{
		Instance: nd.cfg.Instance,
		From:     nd.cfg.Self,
		To:       to,
		Path:     nd.pathBuf[start:end:end],
		Value:    value,
	})
}

// decide is OM(m) step 3 for every sub-instance at once, bottom up over the
// tree. The commander keeps its own value.
func (nd *Node) decide() {
	if nd.cfg.Self == nd.cfg.Commander {
		nd.decision = nd.own
		return
	}
	nd.walk = append(nd.walk[:0], nd.cfg.Commander)
	nd.decision = nd.resolve(idBit(nd.cfg.Commander) | idBit(nd.cfg.Self))
}

// resolve returns this node's decision in the sub-instance named by
// nd.walk, whose commander is the walk's last id: in OM(0) (a leaf) the
// value received; otherwise the majority of the value received from that
// commander and of this node's decisions in the OM(k-1) sub-instances that
// each other lieutenant commands.
func (nd *Node) resolve(used uint64) valueRef {
	received := nd.valueAt(nd.walk)
	depth := len(nd.walk)
	if depth == nd.tree.rounds {
		return received
	}
	base := len(nd.votes)
	nd.votes = append(nd.votes, received)
	for id := range nd.cfg.Nodes {
		if used&idBit(NodeID(id)) != 0 {
			continue
		}
		nd.walk = append(nd.walk, NodeID(id))
		vote := nd.resolve(used | idBit(NodeID(id)))
		nd.walk = nd.walk[:depth]
		nd.votes = append(nd.votes, vote)
	}
	decision := majority(nd.votes[base:])
	nd.votes = nd.votes[:base]
	return decision
}
