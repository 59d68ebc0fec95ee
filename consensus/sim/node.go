package sim

import (
	"fmt"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Node is one simulated validator process: the real engine over a real
// ledger.PendingChain and ledger.MemState. Its durable storage is the
// committed state, the committed blocks and the engine's persisted records;
// a crash loses everything else.
type Node struct {
	Index     int    // instance index in the network
	ID        uint16 // validator index (twins share one)
	Faulty    bool   // Byzantine or a twin: excluded from the invariants
	Behaviour Behaviour

	net     *Network
	replica *pbft.Replica
	chain   *ledger.PendingChain
	state   *ledger.MemState
	head    ledger.Header
	records []pbft.Record
	log     []pbft.CommittedBlock // committed blocks, height 1 upward
	mempool []*ledger.Tx
	up      bool
	// crashAfterPersist makes the node crash in the middle of its next
	// Ready: records persisted, messages not sent, commits not applied.
	crashAfterPersist bool
	restartAt         int64
	history           []*pbft.Message // recent messages, for the replay adversary
	proposals         []*ledger.Block // blocks of recent proposals received, for the fork-parent adversary
	forked            int             // proposals the fork-parent adversary built on another parent
}

func (n *Node) start() error {
	w := n.net
	n.chain = ledger.NewPendingChain(w.chainID, w.params, n.head, n.state)
	var app pbft.Application = pbft.ChainApplication{Chain: n.chain, Candidates: n.candidates}
	if w.sc.KeepForks {
		app = keepForks{app}
	}
	r, err := pbft.NewReplica(pbft.Config{
		ChainID: w.chainID, ID: n.ID, Validators: w.vals, Params: w.params, App: app,
		Signer: pbft.KeyedHashSigner{Secret: w.secrets[n.ID]}, Verifier: w.verifier,
		Head: n.head, Checkpoint: n.lastCheckpoint(), Genesis: w.genesisHash, Records: pbft.CompactRecords(n.records),
		ViewChangeTicks: w.sc.TimeoutTicks,
	})
	if err != nil {
		return fmt.Errorf("sim: node %d: %w", n.Index, err)
	}
	n.replica, n.up = r, true
	return nil
}

// lastCheckpoint is the header the node committed at the highest
// checkpoint height, from its durable log; nil below the first.
func (n *Node) lastCheckpoint() *ledger.Header {
	k := n.net.params.CheckpointInterval
	if h := uint64(len(n.log)) / k * k; h > 0 {
		return &n.log[h-1].Block.Header
	}
	return nil
}

// keepForks is an Application that ignores Retain (Scenario.KeepForks).
type keepForks struct{ pbft.Application }

func (keepForks) Retain(uint64, []crypto.Hash) {}

// candidates is the node's mempool reap: its txs in submission order,
// less those committed (dropped) or held by blocks in flight (skipped).
func (n *Node) candidates(parent ledger.StateReader) []*ledger.Tx {
	keep := n.mempool[:0]
	var out []*ledger.Tx
	for _, tx := range n.mempool {
		if a, _ := n.state.GetAccount(tx.Sender()); tx.Nonce >= a.Nonce {
			keep = append(keep, tx)
			if p, _ := parent.GetAccount(tx.Sender()); tx.Nonce >= p.Nonce {
				out = append(out, tx)
			}
		}
	}
	n.mempool = keep
	return out
}

func (n *Node) crash() {
	n.up, n.replica, n.chain, n.crashAfterPersist = false, nil, nil, false
	n.net.stats.CrashRestarts++
}

// handleReady runs the node loop's duties in order: persist, send, apply
// commits, events, Advance.
func (n *Node) handleReady() {
	for n.up && n.replica.HasReady() {
		rd := n.replica.Ready()
		if rd.Fault != nil {
			// A simulated node's state is in memory and cannot fail.
			n.net.fail(fmt.Errorf("node %d: replica halted on a local fault: %w", n.Index, rd.Fault))
			return
		}
		n.records = append(n.records, rd.Persist...)
		if n.crashAfterPersist {
			n.crash()
			return
		}
		out := rd.Messages
		if n.Behaviour != nil {
			out = n.Behaviour.Outgoing(n, out)
		}
		for _, o := range out {
			n.net.send(n, o)
		}
		for _, c := range rd.Committed {
			n.apply(c)
		}
		for _, e := range rd.Events {
			n.net.onEvent(n, e)
		}
		n.replica.Advance()
		if len(rd.Persist) > 0 && len(n.records) > 4*int(n.net.params.WindowHeights)*4 {
			n.records = pbft.CompactRecords(n.records)
		}
	}
}

// apply commits one block to the node's durable state, after the checks
// every committed block must pass.
func (n *Node) apply(c pbft.CommittedBlock) {
	w := n.net
	b := c.Block
	if err := w.checkCommitted(n, c); err != nil {
		w.fail(err)
	}
	_, diff, err := n.chain.Commit(b.Hash())
	if err != nil {
		w.fail(fmt.Errorf("node %d: application refused committed block %d: %w", n.Index, b.Header.Height, err))
		return
	}
	n.state.Apply(diff)
	n.head = b.Header
	n.log = append(n.log, c)
	w.afterCommit(n, c)
}

func (n *Node) committed() uint64 { return n.head.Height }

func (n *Node) remember(m *pbft.Message) {
	if len(n.history) >= historyMessagesMax {
		n.history = n.history[1:]
	}
	n.history = append(n.history, m)
}

// historyMessagesMax bounds the messages a replaying adversary remembers.
const historyMessagesMax = 256

// rememberProposal keeps the block of a PRE-PREPARE received.
func (n *Node) rememberProposal(m *pbft.Message) {
	if m.Kind != pbft.KindPrePrepare || m.Block == nil {
		return
	}
	if len(n.proposals) >= proposalsMax {
		n.proposals = n.proposals[1:]
	}
	n.proposals = append(n.proposals, m.Block)
}

// proposalsMax bounds the proposals a fork-parent adversary remembers.
const proposalsMax = 64

// signer is the node's own key: all a Byzantine node can sign with.
func (n *Node) signer() pbft.Signer { return pbft.KeyedHashSigner{Secret: n.net.secrets[n.ID]} }

func (n *Node) sign(m *pbft.Message) *pbft.Message {
	m.From = n.ID
	m.Signature = n.signer().Sign(m.SigningBytes())
	return m
}

func randomHash(w *Network) crypto.Hash {
	var h crypto.Hash
	for i := range h {
		h[i] = byte(w.rng.IntN(256))
	}
	return h
}
