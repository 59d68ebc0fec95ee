package pbft

import (
	"errors"
	"fmt"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Application builds and fully validates blocks for the engine. It is
// deterministic; ledger.PendingChain is the natural implementation (see
// ChainApplication). Transactions come from the application, never from
// the engine.
type Application interface {
	// Validate checks b fully on top of its parent (every tx, parent hash,
	// height, tx root, state root) and keeps it for building children on.
	// It returns an error wrapping ledger.ErrUnknownParent when the parent
	// is not known yet: the engine waits instead of blaming the proposer.
	// An error wrapping ledger.ErrLocalState means this node's own state
	// failed (a store read): the engine halts (Ready.Fault) instead of
	// blaming the proposer. An error wrapping ledger.ErrPendingChainFull
	// means this node keeps too many pending blocks to take b now: the
	// engine neither votes nor blames the proposer nor halts, keeps b, and
	// asks again at the next Tick, after the node has committed blocks
	// (which prunes them), or when a vote for b's height arrives. Any
	// other error means b is invalid.
	Validate(b *ledger.Block) error
	// ValidateCommitted is Validate for a block whose commit certificate
	// the engine has verified (catch-up, DeliverCommitted): it is the one
	// block that will ever commit at its height, so every block kept at
	// that height (or at an ancestor's) that is not b's, and every
	// descendant of one, is dead. The application must drop them before
	// checking b, so that b always finds room: b is the replica's next
	// height, whose parent the application holds (committed, or pending
	// while the node applies a sync batch), and it never fails with
	// ledger.ErrPendingChainFull. Otherwise errors mean what they
	// mean for Validate; an invalid b means more than f replicas are
	// faulty.
	ValidateCommitted(b *ledger.Block) error
	// Retain is called as a new view starts, with the hashes of the blocks
	// its NEW-VIEW re-proposes (a chain from the view's base checkpoint)
	// and the height above which the rest may go: the higher of that
	// checkpoint's and the replica's committed height. Of the blocks the
	// application keeps above it, only those can be voted on in the new
	// view; it should drop the others and their descendants, the forks
	// of views that never committed, which would otherwise fill it
	// (ledger.ErrPendingChainFull) on every replica and stall the network
	// for good. Dropping one costs at most validating it again: a later
	// view that re-proposes it sends it with its block.
	Retain(above uint64, keep []crypto.Hash)
	// Build returns a new block on top of the block with hash parent (the
	// committed head or a validated block). An error wrapping
	// ledger.ErrLocalState halts the engine as for Validate; on any other
	// the primary tries again at the next Tick.
	Build(parent crypto.Hash, view uint64, proposer crypto.Address, timestamp int64) (*ledger.Block, error)
}

// Idler is optionally implemented by an Application that can tell it has
// no transactions waiting; with Config.EmptyBlockTicks set, an idle primary
// then proposes only every EmptyBlockTicks ticks instead of every tick.
type Idler interface {
	Idle() bool
}

// ChainApplication adapts a ledger.PendingChain and a source of candidate
// transactions (a mempool's reap) to Application. The caller still commits
// each block the engine hands out (PendingChain.Commit) and applies its diff.
type ChainApplication struct {
	Chain *ledger.PendingChain
	// Candidates returns txs for a block built on a parent whose state
	// is given: with blocks in flight, it should skip the txs they hold
	// (mempool.ReapAfter).
	Candidates func(parent ledger.StateReader) []*ledger.Tx
	// IdleFunc, if set, reports that no transactions wait (see Idler).
	IdleFunc func() bool
}

// Idle implements Idler; without IdleFunc the application is never idle.
func (a ChainApplication) Idle() bool { return a.IdleFunc != nil && a.IdleFunc() }

// Validate implements Application.
func (a ChainApplication) Validate(b *ledger.Block) error { return a.Chain.Validate(b) }

// ValidateCommitted implements Application.
func (a ChainApplication) ValidateCommitted(b *ledger.Block) error {
	return a.Chain.ValidateCommitted(b)
}

// Retain implements Application.
func (a ChainApplication) Retain(above uint64, keep []crypto.Hash) { a.Chain.Retain(above, keep) }

// Build implements Application.
func (a ChainApplication) Build(parent crypto.Hash, view uint64, proposer crypto.Address, timestamp int64) (*ledger.Block, error) {
	var txs []*ledger.Tx
	if a.Candidates != nil {
		state, ok := a.Chain.StateAfter(parent)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ledger.ErrUnknownParent, parent.Short())
		}
		txs = a.Candidates(state)
	}
	return a.Chain.Build(parent, view, proposer, timestamp, txs)
}

// Config is everything a replica is built from.
type Config struct {
	ChainID    string
	ID         uint16 // this replica's index in Validators
	Validators *ledger.ValidatorSet
	Params     ledger.ConsensusParams
	App        Application
	Signer     Signer
	Verifier   Verifier
	// Head is the committed head the application starts from (the
	// genesis block on a fresh chain, the store's head on a restart).
	Head ledger.Header
	// Checkpoint is the header of the committed block at the highest
	// checkpoint height (a multiple of Params.CheckpointInterval) at or
	// below Head; nil below the first one, and it may be nil when Head
	// is at a checkpoint height (Head is used). The replica signs its
	// CHECKPOINT again: it kept its own only in memory, and if the
	// others' were lost too a full window may need it to turn stable
	// (tickCheckpoint). Without it, only a Head at a checkpoint height is
	// signed again.
	Checkpoint *ledger.Header
	// Genesis is the hash of the block at height 0: the stable checkpoint
	// every replica starts from.
	Genesis crypto.Hash
	// Records are the replica's persisted records (Ready.Persist, in
	// order, possibly compacted with CompactRecords) to restart from.
	Records []Record
	// TickInterval is how much time one Tick stands for; with
	// Params.ViewChangeTimeoutMs it gives the base view-change timeout.
	TickInterval time.Duration
	// ViewChangeTicks overrides the base timeout in ticks when non-zero.
	ViewChangeTicks uint64
	// EmptyBlockTicks, when non-zero, makes a primary whose Application is
	// idle (Idler) propose only after this many ticks since its last
	// proposal, so an idle chain advances at a steady, slow pace; it must be
	// well below the view-change timeout. Zero proposes on every tick.
	EmptyBlockTicks uint64
	// FutureMessagesPerPeerMax bounds the messages kept per peer for a view
	// this replica has not entered yet; 0 means 4 per window height.
	FutureMessagesPerPeerMax int
	// FutureBytesPerPeerMax bounds the bytes of the blocks those messages
	// carry, per peer; 0 means one block of the chain's largest size per
	// window height, what an honest primary has in flight. The count alone
	// let one faulty peer pin FutureMessagesPerPeerMax largest blocks.
	FutureBytesPerPeerMax int
	// EvidenceMax bounds the evidence kept; 0 means 64.
	EvidenceMax int
}

// ErrConfig wraps configuration errors.
var ErrConfig = errors.New("pbft: config")

func (c *Config) check() error {
	switch {
	case c.Validators == nil || c.App == nil || c.Signer == nil || c.Verifier == nil:
		return fmt.Errorf("%w: Validators, App, Signer and Verifier are required", ErrConfig)
	case !c.Validators.Contains(int(c.ID)):
		return fmt.Errorf("%w: id %d not in a set of %d", ErrConfig, c.ID, c.Validators.Len())
	case c.ViewChangeTicks == 0 && c.TickInterval <= 0:
		return fmt.Errorf("%w: TickInterval or ViewChangeTicks is required", ErrConfig)
	case c.Checkpoint != nil && (c.Params.CheckpointInterval == 0 || c.Checkpoint.Height == 0 ||
		c.Checkpoint.Height%c.Params.CheckpointInterval != 0 || c.Checkpoint.Height > c.Head.Height ||
		(c.Checkpoint.Height == c.Head.Height && c.Checkpoint.Hash() != c.Head.Hash())):
		return fmt.Errorf("%w: Checkpoint at height %d is not a checkpoint height at or below Head %d", ErrConfig, c.Checkpoint.Height, c.Head.Height)
	case c.EmptyBlockTicks > 0 && c.EmptyBlockTicks >= c.baseTimeoutTicks():
		return fmt.Errorf("%w: EmptyBlockTicks %d must be below the view-change timeout of %d ticks", ErrConfig, c.EmptyBlockTicks, c.baseTimeoutTicks())
	}
	if err := c.Params.Validate(); err != nil {
		return err
	}
	return CheckParams(c.Validators.Len(), c.Params)
}

func (c *Config) baseTimeoutTicks() uint64 {
	if c.ViewChangeTicks > 0 {
		return c.ViewChangeTicks
	}
	t := uint64(time.Duration(c.Params.ViewChangeTimeoutMs) * time.Millisecond / c.TickInterval)
	return max(t, 2)
}
