package ledger

import (
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
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
	_, err := s.applyBlocks(writes, true)
	return err
}

// ApplyBlocksNoSyncWait is ApplyBlocks without waiting for the fsync: when
// it returns, the blocks are the head and readable, and durable waits
// until they are on disk, reporting why if they could not be put there
// (the store must then be closed: the head it reports may be lost). A crash
// before that loses the last blocks, never part of one, so the store
// reopens at an older head. It is for blocks that can be fetched again
// after such a crash (synced, certified blocks): the caller overlaps the
// fsync with its work on the next ones, and calls durable before anything
// it writes elsewhere may depend on these blocks being on disk.
func (s *Store) ApplyBlocksNoSyncWait(writes []BlockWrite) (durable func() error, err error) {
	return s.applyBlocks(writes, false)
}

func (s *Store) applyBlocks(writes []BlockWrite, wait bool) (durable func() error, err error) {
	durable = func() error { return nil }
	if len(writes) == 0 {
		return durable, nil
	}
	if len(writes) > ApplyBlocksMax {
		return nil, fmt.Errorf("store: %d blocks in one batch exceeds %d", len(writes), ApplyBlocksMax)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if !s.Initialized() {
		return nil, ErrStoreNotInit
	}
	if err := s.checkChain(writes); err != nil {
		return nil, err
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	writeBlocks(batch, writes)
	first, last := writes[0].Block.Header.Height, writes[len(writes)-1].Block.Header.Height
	opts := pebble.Sync
	if !wait {
		opts = pebble.NoSync
	}
	if err := batch.Commit(opts); err != nil {
		return nil, fmt.Errorf("store: write blocks %d..%d: %w", first, last, err)
	}
	if !wait {
		// The batch is in the WAL and the memtable; an empty synced
		// record after it syncs the WAL up to and including it, the WAL
		// being one sequential log.
		synced := make(chan error, 1)
		s.syncs.Add(1)
		go func() {
			defer s.syncs.Done()
			synced <- s.db.LogData(nil, pebble.Sync)
		}()
		durable = sync.OnceValue(func() error {
			if err := <-synced; err != nil {
				return fmt.Errorf("store: sync blocks %d..%d: %w", first, last, err)
			}
			return nil
		})
	}
	// Oldest first, so each account ends at its latest value.
	for _, w := range writes {
		s.cacheWrite(w.Diff)
	}
	s.mu.Lock()
	s.head, s.stateHash = writes[len(writes)-1].Block.Header, writes[len(writes)-1].Diff.Hash
	s.mu.Unlock()
	return durable, nil
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
