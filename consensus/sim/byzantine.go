package sim

import (
	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/ledger"
)

// Behaviour makes a node Byzantine. Like relab/hotstuff's byzantine
// package, a Byzantine node runs the honest engine and a behaviour
// rewrites what it sends; it signs only with its own key.
type Behaviour interface {
	Outgoing(n *Node, out []pbft.Outbound) []pbft.Outbound
}

// Byzantine behaviour names, as used in scenario files.
const (
	FaultSilent     = "silent"
	FaultEquivocate = "equivocate"
	FaultInvalid    = "invalid-proposal"
	FaultWrongVotes = "wrong-votes"
	FaultReplay     = "replay"
	FaultForkParent = "fork-parent"
)

// ByzantineFaults lists the behaviours the scenario generator picks from.
// FaultForkParent is for stored scenarios only: it needs a sibling block
// every correct replica validated, which random runs seldom set up, and
// adding it would change what every existing seed draws.
var ByzantineFaults = []string{FaultSilent, FaultEquivocate, FaultInvalid, FaultWrongVotes, FaultReplay}

func behaviourOf(name string) Behaviour {
	switch name {
	case FaultSilent:
		return Silent{}
	case FaultEquivocate:
		return Equivocator{}
	case FaultInvalid:
		return InvalidProposer{}
	case FaultWrongVotes:
		return WrongVoter{}
	case FaultReplay:
		return Replayer{}
	case FaultForkParent:
		return ForkParent{}
	}
	return nil
}

var (
	_ Behaviour = Silent{}
	_ Behaviour = Equivocator{}
	_ Behaviour = InvalidProposer{}
	_ Behaviour = WrongVoter{}
	_ Behaviour = Replayer{}
	_ Behaviour = ForkParent{}
)

// Silent sends nothing.
type Silent struct{}

// Outgoing implements Behaviour.
func (Silent) Outgoing(*Node, []pbft.Outbound) []pbft.Outbound { return nil }

// isFreshProposal reports whether o is this node's own new proposal.
func isFreshProposal(n *Node, o pbft.Outbound) bool {
	m := o.Msg
	return m.Kind == pbft.KindPrePrepare && m.From == n.ID && m.Block != nil && m.Block.Header.View == m.View && o.To == pbft.Broadcast
}

// Equivocator, as primary, sends one block to half the replicas and a
// different valid block (another timestamp) to the other half.
type Equivocator struct{}

// Outgoing implements Behaviour.
func (Equivocator) Outgoing(n *Node, out []pbft.Outbound) []pbft.Outbound {
	var res []pbft.Outbound
	for _, o := range out {
		if !isFreshProposal(n, o) || n.chain == nil {
			res = append(res, o)
			continue
		}
		b := o.Msg.Block
		alt, err := n.chain.Build(b.Header.ParentHash, b.Header.View, b.Header.Proposer, b.Header.Timestamp+1+int64(n.net.rng.IntN(1000)), nil)
		if err != nil || alt.Hash() == b.Hash() {
			res = append(res, o)
			continue
		}
		altMsg := n.sign(&pbft.Message{Kind: pbft.KindPrePrepare, View: o.Msg.View, Height: o.Msg.Height, Digest: alt.Hash(), Block: alt})
		for id := 0; id < n.net.vals.Len(); id++ {
			switch {
			case uint16(id) == n.ID:
			case id%2 == 0:
				res = append(res, pbft.Outbound{To: id, Msg: o.Msg})
			default:
				res = append(res, pbft.Outbound{To: id, Msg: altMsg})
			}
		}
	}
	return res
}

// InvalidProposer, as primary, proposes blocks with a wrong state root.
type InvalidProposer struct{}

// Outgoing implements Behaviour.
func (InvalidProposer) Outgoing(n *Node, out []pbft.Outbound) []pbft.Outbound {
	res := make([]pbft.Outbound, 0, len(out))
	for _, o := range out {
		if isFreshProposal(n, o) {
			bad := *o.Msg.Block
			bad.Header.StateRoot = randomHash(n.net)
			o.Msg = n.sign(&pbft.Message{Kind: pbft.KindPrePrepare, View: o.Msg.View, Height: o.Msg.Height, Digest: bad.Hash(), Block: &bad})
		}
		res = append(res, o)
	}
	return res
}

// WrongVoter sends PREPAREs and COMMITs for random digests.
type WrongVoter struct{}

// Outgoing implements Behaviour.
func (WrongVoter) Outgoing(n *Node, out []pbft.Outbound) []pbft.Outbound {
	res := make([]pbft.Outbound, 0, len(out))
	for _, o := range out {
		if k := o.Msg.Kind; k == pbft.KindPrepare || k == pbft.KindCommit {
			o.Msg = n.sign(&pbft.Message{Kind: k, View: o.Msg.View, Height: o.Msg.Height, Digest: randomHash(n.net)})
		}
		res = append(res, o)
	}
	return res
}

// Replayer behaves honestly but also re-sends old messages it has seen.
type Replayer struct{}

// Outgoing implements Behaviour.
func (Replayer) Outgoing(n *Node, out []pbft.Outbound) []pbft.Outbound {
	for i := 0; i < 2 && len(n.history) > 0; i++ {
		m := n.history[n.net.rng.IntN(len(n.history))]
		out = append(out, pbft.Outbound{To: pbft.Broadcast, Msg: m})
	}
	return out
}

// ForkParent, as primary, builds each new proposal at height h on another
// block than its engine chose: one it received pre-prepared at h-1 (in an
// earlier view) that its chain still holds as validated. Where correct
// replicas hold that block as validated too (their application ignores
// Retain: Scenario.KeepForks), their application accepts the proposal;
// only the engine's chaining rule (a vote needs the parent prepared in
// this view or committed) keeps them from voting for a block that can
// never extend their chain. Otherwise the new view made them drop the
// sibling, and they wait for a parent that never comes.
type ForkParent struct{}

// Outgoing implements Behaviour.
func (ForkParent) Outgoing(n *Node, out []pbft.Outbound) []pbft.Outbound {
	res := make([]pbft.Outbound, 0, len(out))
	for _, o := range out {
		if isFreshProposal(n, o) && n.chain != nil {
			if alt := forkedProposal(n, o.Msg.Block); alt != nil {
				n.forked++
				o.Msg = n.sign(&pbft.Message{Kind: pbft.KindPrePrepare, View: o.Msg.View, Height: o.Msg.Height, Digest: alt.Hash(), Block: alt})
			}
		}
		res = append(res, o)
	}
	return res
}

// forkedProposal builds b again on a sibling of its parent, if the node
// received one and its chain still holds it; nil otherwise.
func forkedProposal(n *Node, b *ledger.Block) *ledger.Block {
	h := b.Header.Height
	for _, s := range n.proposals {
		d := s.Hash()
		if s.Header.Height+1 != h || d == b.Header.ParentHash {
			continue
		}
		if _, pending := n.chain.Block(d); !pending {
			continue
		}
		alt, err := n.chain.Build(d, b.Header.View, b.Header.Proposer, b.Header.Timestamp, nil)
		if err == nil {
			return alt
		}
	}
	return nil
}
