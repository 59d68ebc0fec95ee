package ledger

import (
	"fmt"
)

// ApplyBlocksMax bounds the blocks one ApplyBlocks call writes: the batch
// is held in memory until it commits.
const ApplyBlocksMax = 256

// BlockWrite is one block for ApplyBlocks: the block, its commit
// certificate and its diff on the state after the block before it.
type BlockWrite struct {
	Block       *Block
	Certificate *CommitCertificate
	Diff        *StateDiff
}

// ApplyBlocks makes consecutive blocks the new head in one fsynced batch,
// as if ApplyBlock were called for each in order, but with one fsync for
// all of them: block sync applies hundreds of blocks a second, and an fsync
// per block would bound it. The first block must be the head's child, each
// next one the child of the one before, and each diff must produce its
// block's state root; otherwise nothing is written. After a crash the
// store holds all of the blocks or none.
func (s *Store) ApplyBlocks(writes []BlockWrite) error {
	if len(writes) == 0 {
		return nil
	}
	return s.Commit(nil, writes, Synced)
}

// checkChain checks, before anything is written, that writes extend the
// head one height at a time and that each diff gives its state root.
func (s *Store) checkChain(writes []BlockWrite) error {
	parent := s.Head()
	for _, w := range writes {
		b := w.Block
		if b == nil || w.Diff == nil {
			return fmt.Errorf("store: nil block or diff after height %d", parent.Height)
		}
		if b.Header.Height != parent.Height+1 || b.Header.ParentHash != parent.Hash() {
			return fmt.Errorf("%w: block %d (parent %s) on %d (%s)", ErrStoreNotNext,
				b.Header.Height, b.Header.ParentHash.Short(), parent.Height, parent.Hash().Short())
		}
		if w.Diff.Root() != b.Header.StateRoot {
			return fmt.Errorf("%w: height %d", ErrStoreStateMismatch, b.Header.Height)
		}
		parent = b.Header
	}
	return nil
}
