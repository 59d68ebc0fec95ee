package ledger

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/synod-chain/synod/crypto"
)

// ErrUnknownParent is returned for a block whose parent is neither the
// committed head nor a pending block: the caller should wait for the parent
// (or fetch it), not treat the block as invalid.
var ErrUnknownParent = errors.New("ledger: unknown parent block")

// PendingChainBlocksMax bounds the pending blocks kept, so a peer feeding
// valid-looking forks cannot grow memory without limit.
const PendingChainBlocksMax = 4096

// ErrPendingChainFull is returned when PendingChainBlocksMax blocks descend
// from the head and none can be pruned.
var ErrPendingChainFull = errors.New("ledger: too many pending blocks")

// PendingChain is the state machine's view of blocks that are validated but
// not yet committed. Consensus has several heights in flight; a replica
// must validate block h+1 (every tx, the state root) before h commits, so
// it executes h+1 on the speculative state after h. PendingChain keeps one
// diff per validated block, layered over the committed state.
//
// It is deterministic and does no I/O; the owner applies each diff Commit
// returns to the committed state it passed in (a Store or a MemState)
// before the next call, and before it reads any state the chain gave out:
// those states read the committed state for what committed blocks changed.
type PendingChain struct {
	chainID string
	params  ConsensusParams
	head    Header
	base    StateReader
	pending map[crypto.Hash]*pendingBlock
	// sigs, when set, lets validation skip signatures already verified
	// (at mempool admission).
	sigs *SigCache
}

// SetSigCache makes validation and building skip the signatures of txs in
// cache, and record the ones they verify.
func (p *PendingChain) SetSigCache(cache *SigCache) { p.sigs = cache }

type pendingBlock struct {
	block *Block
	diff  *StateDiff
	// parent is the pending parent, nil once the parent is committed (or
	// when it was the head already): see pendingState.
	parent *pendingBlock
}

// pendingState is the state after a pending block: its diff and those of
// its pending ancestors, newest first, over the committed state. A parent
// that commits is unlinked (Commit), since the owner then applies its diff
// to the committed state: walking it would find the same values. Without
// that cut, a pipeline that never drains (every block validated while its
// parent is pending) would chain every diff since it last drained, and a
// read of an account no block touched would walk them all.
type pendingState struct {
	chain *PendingChain
	pb    *pendingBlock
}

func (s pendingState) GetAccount(addr crypto.Address) (Account, error) {
	for pb := s.pb; pb != nil; pb = pb.parent {
		if a, ok := pb.diff.Accounts[addr]; ok {
			return a, nil
		}
	}
	return s.chain.base.GetAccount(addr)
}

func (s pendingState) StateHash() LtHash { return s.pb.diff.Hash }

// depth is the number of diffs a read may walk, for tests.
func (s pendingState) depth() int {
	n := 0
	for pb := s.pb; pb != nil; pb = pb.parent {
		n++
	}
	return n
}

// NewPendingChain starts from the committed head and the state after it.
func NewPendingChain(chainID string, params ConsensusParams, head Header, base StateReader) *PendingChain {
	return &PendingChain{chainID: chainID, params: params, head: head, base: base, pending: make(map[crypto.Hash]*pendingBlock)}
}

// Head is the committed head's header.
func (p *PendingChain) Head() Header { return p.head }

// Len is the number of pending blocks.
func (p *PendingChain) Len() int { return len(p.pending) }

// parentOf returns the header of and the state after the block with hash h.
func (p *PendingChain) parentOf(h crypto.Hash) (*Header, StateReader, bool) {
	if h == p.head.Hash() {
		return &p.head, p.base, true
	}
	if pb, ok := p.pending[h]; ok {
		return &pb.block.Header, pendingState{p, pb}, true
	}
	return nil, nil, false
}

// StateAfter returns the state after the committed head or a pending
// block, by hash.
func (p *PendingChain) StateAfter(h crypto.Hash) (StateReader, bool) {
	_, st, ok := p.parentOf(h)
	return st, ok
}

// Block returns a pending block by hash.
func (p *PendingChain) Block(h crypto.Hash) (*Block, bool) {
	pb, ok := p.pending[h]
	if !ok {
		return nil, false
	}
	return pb.block, true
}

// Validate checks b fully on top of its parent and keeps it as pending.
// Validating a block already pending only checks that b carries the
// pending block's txs.
func (p *PendingChain) Validate(b *Block) error {
	hash := b.Hash()
	if pb, ok := p.pending[hash]; ok {
		// The hash covers the header, not the txs: a body with other txs
		// under a validated header (a peer serving a forged body with the
		// block's real certificate, or a primary re-proposing a digest)
		// would otherwise pass as validated, and be committed and stored
		// with the diff of txs it does not hold.
		if b != pb.block && !slices.Equal(b.TxHashes(), pb.block.TxHashes()) {
			return fmt.Errorf("%w: txs differ from those of pending block %s with the same header", ErrBlockBadRoots, hash.Short())
		}
		return nil
	}
	parent, state, ok := p.parentOf(b.Header.ParentHash)
	if !ok {
		return fmt.Errorf("%w: %s below height %d", ErrUnknownParent, b.Header.ParentHash.Short(), b.Header.Height)
	}
	if err := p.makeRoom(); err != nil {
		return err
	}
	diff, err := validateBlock(p.chainID, p.params, parent, state, b, p.sigs)
	if err != nil {
		return err
	}
	p.add(b, diff)
	return nil
}

// ValidateCommitted is Validate for a block known to commit at its height:
// the caller has verified its commit certificate (a block fetched by
// catch-up). Only one block ever commits at a height (PBFT safety), and a
// committed block's ancestors are the ones committed below it, so every
// other pending block at b's height or at the height of an ancestor of b
// known here, and every descendant of one, can never commit: they are
// dropped first, whether or not b then validates. A full chain of blocks
// that are not b thus never keeps b out: a child of the head always finds
// room, and a deeper b finds it unless its own pending ancestors fill the
// chain.
func (p *PendingChain) ValidateCommitted(b *Block) error {
	p.pruneRivals(b)
	return p.Validate(b)
}

// pruneRivals drops the pending blocks that cannot commit if b does: those
// at a height where b's chain of parent hashes names another block, and
// their descendants.
func (p *PendingChain) pruneRivals(b *Block) {
	// chain maps a height to the hash of b or of its ancestor there, from
	// b's height down to the lowest one whose hash the pending blocks
	// still tell (a missing parent ends the walk; so does the head).
	chain := map[uint64]crypto.Hash{b.Header.Height: b.Hash()}
	for k, h := b.Header.Height, b.Header.ParentHash; k > p.head.Height+1; k-- {
		chain[k-1] = h
		pb, ok := p.pending[h]
		if !ok {
			break
		}
		h = pb.block.Header.ParentHash
	}
	dropped := false
	for h, pb := range p.pending {
		if want, ok := chain[pb.block.Header.Height]; ok && want != h {
			delete(p.pending, h)
			dropped = true
		}
	}
	if dropped {
		p.prune(p.head.Height + 1) // the dropped blocks' descendants
	}
}

// Retain drops every pending block above height above whose hash is not in
// keep, and every descendant of one. Consensus calls it when a new view
// starts, with the chain of blocks the view re-proposes: any other block
// kept above that height came from an earlier view and could only be
// voted on again if a later view re-proposed it, which sends it again with
// its block. Without this, the forks of views that never committed stay
// until a commit at their height prunes them, and enough of them
// (PendingChainBlocksMax) leave no room for the block that would commit.
// Blocks at or below above are untouched: they may be committed already,
// with their diffs not yet applied.
func (p *PendingChain) Retain(above uint64, keep []crypto.Hash) {
	kept := make(map[crypto.Hash]bool, len(keep))
	for _, h := range keep {
		kept[h] = true
	}
	dropped := false
	for h, pb := range p.pending {
		if pb.block.Header.Height > above && !kept[h] {
			delete(p.pending, h)
			dropped = true
		}
	}
	if dropped {
		p.prune(p.head.Height + 1) // the dropped blocks' descendants
	}
}

// makeRoom prunes when the pending set is full and fails if that frees
// nothing, before any work is spent on a new block.
func (p *PendingChain) makeRoom() error {
	if len(p.pending) < PendingChainBlocksMax {
		return nil
	}
	p.prune(p.head.Height + 1)
	if len(p.pending) >= PendingChainBlocksMax {
		return fmt.Errorf("%w: %d", ErrPendingChainFull, len(p.pending))
	}
	return nil
}

func (p *PendingChain) add(b *Block, diff *StateDiff) {
	p.pending[b.Hash()] = &pendingBlock{block: b, diff: diff, parent: p.pending[b.Header.ParentHash]}
}

// Build makes a block on top of the block with hash parent (head or
// pending) from candidates, as BuildBlock does, and keeps it as pending.
func (p *PendingChain) Build(parent crypto.Hash, view uint64, proposer crypto.Address, timestamp int64, candidates []*Tx) (*Block, error) {
	ph, state, ok := p.parentOf(parent)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownParent, parent.Short())
	}
	if err := p.makeRoom(); err != nil {
		return nil, err
	}
	b, diff, err := buildBlock(BlockTemplate{
		ChainID: p.chainID, Params: p.params, Parent: ph, View: view, Proposer: proposer, Timestamp: timestamp,
	}, state, candidates, p.sigs)
	if err != nil {
		return nil, err
	}
	p.add(b, diff)
	return b, nil
}

// Commit makes the pending block with hash h, a child of the head, the new
// head, and returns its diff, which the caller must apply to the committed
// state before the next call. Pending blocks that no longer descend from
// the head are dropped.
func (p *PendingChain) Commit(h crypto.Hash) (*Block, *StateDiff, error) {
	pb, ok := p.pending[h]
	if !ok {
		return nil, nil, fmt.Errorf("ledger: commit of unknown block %s", h.Short())
	}
	if pb.block.Header.ParentHash != p.head.Hash() {
		return nil, nil, fmt.Errorf("ledger: commit of %s at height %d does not extend head %d", h.Short(), pb.block.Header.Height, p.head.Height)
	}
	delete(p.pending, h)
	for _, child := range p.pending {
		if child.parent == pb {
			child.parent = nil
		}
	}
	p.head = pb.block.Header
	p.prune(p.head.Height + 1)
	return pb.block, pb.diff, nil
}

// Reset drops every pending block and restarts from a new committed head,
// for example after blocks were applied by state sync.
func (p *PendingChain) Reset(head Header, base StateReader) {
	p.head, p.base = head, base
	clear(p.pending)
}

// prune drops pending blocks below minHeight and those whose ancestry no
// longer reaches the head.
func (p *PendingChain) prune(minHeight uint64) {
	byHeight := make([]*pendingBlock, 0, len(p.pending))
	for _, pb := range p.pending {
		byHeight = append(byHeight, pb)
	}
	// Heights increase by one along a chain, so visiting blocks by height
	// settles each block's parent before the block itself.
	slices.SortFunc(byHeight, func(a, b *pendingBlock) int { return cmp.Compare(a.block.Header.Height, b.block.Header.Height) })
	keep := map[crypto.Hash]bool{p.head.Hash(): true}
	for _, pb := range byHeight {
		if pb.block.Header.Height >= minHeight && keep[pb.block.Header.ParentHash] {
			keep[pb.block.Hash()] = true
		}
	}
	for h := range p.pending {
		if !keep[h] {
			delete(p.pending, h)
		}
	}
}
