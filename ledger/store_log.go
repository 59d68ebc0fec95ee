package ledger

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The store keeps, beside the chain, an ordered log of opaque records: the
// node's consensus write-ahead records. Sharing the store's one Pebble
// write-ahead log with the blocks means a synced append of records also
// makes durable every block committed before it without an fsync
// (Deferred), so blocks need no fsync of their own; a Commit may also
// write records and blocks together, atomically. The ledger does not read
// the records; it keeps them in order until ReplaceLog drops them.

// LogRecordBytesMax bounds one log record (a consensus record may carry a
// whole block).
const LogRecordBytesMax = 64 << 20

// logKeyBytes is the length of a log key: the table byte and a big-endian
// sequence number, so records sort in the order they were appended.
const logKeyBytes = 9

func logKey(seq uint64) []byte { return heightKey(tableLog, seq) }

// loadLogNext finds the sequence number after the last log record.
func (s *Store) loadLogNext() error {
	iter, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableLog}, UpperBound: []byte{tableLog + 1}})
	if err != nil {
		return err
	}
	if iter.Last() {
		if len(iter.Key()) != logKeyBytes {
			iter.Close()
			return fmt.Errorf("%w: log key of %d bytes", ErrStoreCorrupt, len(iter.Key()))
		}
		s.logNext = binary.BigEndian.Uint64(iter.Key()[1:]) + 1
	}
	return iter.Close()
}

// Durability says when a Commit's batch is on disk.
type Durability bool

const (
	// Synced: fsynced before Commit returns.
	Synced Durability = true
	// Deferred: visible to readers at once, but possibly still in
	// Pebble's write-ahead log buffer, in memory, so a crash of the
	// process may lose it as a crash of the machine may; made durable by
	// the next Synced commit or Sync (the store has one write-ahead log,
	// written and synced in order, so a crash keeps a prefix of it).
	Deferred Durability = false
)

// Commit appends log records after the last one and makes consecutive
// blocks the new head (as ApplyBlocks does), in one batch: after a crash
// the store holds all of it or none. Either part may be empty.
func (s *Store) Commit(log [][]byte, writes []BlockWrite, durability Durability) error {
	if len(log) == 0 && len(writes) == 0 {
		return nil
	}
	if len(writes) > ApplyBlocksMax {
		return fmt.Errorf("store: %d blocks in one batch exceeds %d", len(writes), ApplyBlocksMax)
	}
	if err := checkLogRecords(log); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if len(writes) > 0 {
		if !s.Initialized() {
			return ErrStoreNotInit
		}
		if err := s.checkChain(writes); err != nil {
			return err
		}
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	if len(writes) > 0 {
		writeBlocks(batch, writes, s.history)
	}
	// After the block records: the log table sorts after every other, so
	// the batch stays in key order (see writeBlocks).
	next := s.putLog(batch, log)
	opts := pebble.NoSync
	if durability == Synced {
		opts = pebble.Sync
	}
	if err := batch.Commit(opts); err != nil {
		if len(writes) == 0 {
			return fmt.Errorf("store: append %d log records: %w", len(log), err)
		}
		return fmt.Errorf("store: write blocks %d..%d: %w", writes[0].Block.Header.Height, writes[len(writes)-1].Block.Header.Height, err)
	}
	s.logNext = next
	if len(writes) == 0 {
		return nil
	}
	// Oldest first, so each account ends at its latest value.
	for _, w := range writes {
		s.cacheWrite(w.Diff)
	}
	last := writes[len(writes)-1]
	s.mu.Lock()
	s.head, s.stateHash = last.Block.Header, last.Diff.Hash
	s.mu.Unlock()
	return nil
}

// Sync makes every Deferred commit so far durable.
func (s *Store) Sync() error {
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("store: sync: %w", err)
	}
	return nil
}

// LogRecords returns every log record, oldest first.
func (s *Store) LogRecords() ([][]byte, error) {
	iter, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableLog}, UpperBound: []byte{tableLog + 1}})
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	var out [][]byte
	for ok := iter.First(); ok; ok = iter.Next() {
		v, err := iter.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("%w: log: %w", ErrStoreCorrupt, err)
		}
		out = append(out, append([]byte(nil), v...))
	}
	return out, iter.Error()
}

// ReplaceLog swaps the whole log for records (the owner's compaction), in
// one fsynced batch: a crash leaves the old log or the new one.
func (s *Store) ReplaceLog(records [][]byte) error {
	if err := checkLogRecords(records); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	batch := s.db.NewBatch()
	defer batch.Close()
	if err := batch.DeleteRange(logKey(0), logKey(s.logNext), nil); err != nil {
		return fmt.Errorf("store: replace log: %w", err)
	}
	next := s.putLog(batch, records)
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: replace log: %w", err)
	}
	s.logNext = next
	return nil
}

// checkLogRecords refuses a record over LogRecordBytesMax, before anything
// is written.
func checkLogRecords(records [][]byte) error {
	for _, rec := range records {
		if len(rec) > LogRecordBytesMax {
			return fmt.Errorf("store: log record of %d bytes exceeds %d", len(rec), LogRecordBytesMax)
		}
	}
	return nil
}

// putLog puts records into batch after the last log record and returns
// the sequence after them, which becomes logNext once the batch commits.
// Under writeMu.
func (s *Store) putLog(batch *pebble.Batch, records [][]byte) (next uint64) {
	next = s.logNext
	for _, rec := range records {
		set(batch, logKey(next), rec)
		next++
	}
	return next
}
