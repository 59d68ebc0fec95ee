package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/ledger"
)

// walRecordBytesMax bounds one consensus record (a prepared record carries
// a whole block).
const walRecordBytesMax = 64 << 20

// walPrefix starts every record key; records are ordered by a big-endian
// sequence number after it.
const walPrefix = 'r'

// ErrWALCorrupt is returned when the log cannot be read back as written.
var ErrWALCorrupt = errors.New("consensus wal: corrupt")

// shortLivedMemTableBytes sizes the memtables of the node's two logs of
// short-lived records, the consensus WAL and the tx journal. Their records
// (blocks the WAL holds until commit, txs the journal holds until commit)
// are deleted seconds after they are written; with a memtable that spans
// those seconds the write and its delete meet in memory and the record
// never reaches an sstable, so Pebble does not spend CPU compacting data
// that is already dead. Reads never search these memtables by key.
const shortLivedMemTableBytes = 32 << 20

// WAL is the consensus write-ahead log: the engine's Ready.Persist records,
// appended and fsynced before any message of the same Ready is sent. It is
// a Pebble instance of its own, apart from the ledger store, because it
// belongs to this validator's promises, not to the chain.
type WAL struct {
	db   *pebble.DB
	next uint64
}

// OpenWAL opens (or creates) the log in dir; fs nil means the disk.
func OpenWAL(dir string, fs vfs.FS, logger *slog.Logger) (*WAL, error) {
	db, err := pebble.Open(dir, &pebble.Options{FS: fs, Logger: ledger.PebbleLogger(logger), MemTableSize: shortLivedMemTableBytes})
	if err != nil {
		return nil, fmt.Errorf("open consensus wal %s: %w", dir, err)
	}
	w := &WAL{db: db}
	iter, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{walPrefix}, UpperBound: []byte{walPrefix + 1}})
	if err != nil {
		db.Close()
		return nil, err
	}
	if iter.Last() {
		if len(iter.Key()) != 9 {
			iter.Close()
			db.Close()
			return nil, fmt.Errorf("%w: key of %d bytes", ErrWALCorrupt, len(iter.Key()))
		}
		w.next = binary.BigEndian.Uint64(iter.Key()[1:]) + 1
	}
	if err := iter.Close(); err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

// Close closes the log.
func (w *WAL) Close() error { return w.db.Close() }

// Append writes records after the last one, in one fsynced batch.
func (w *WAL) Append(records [][]byte) error {
	if len(records) == 0 {
		return nil
	}
	batch := w.db.NewBatch()
	defer batch.Close()
	next := w.next
	for _, rec := range records {
		if len(rec) > walRecordBytesMax {
			return fmt.Errorf("consensus wal: record of %d bytes exceeds %d", len(rec), walRecordBytesMax)
		}
		if err := batch.Set(walKey(next), rec, nil); err != nil {
			return err
		}
		next++
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("consensus wal: append: %w", err)
	}
	w.next = next
	return nil
}

// Records returns every record in order.
func (w *WAL) Records() ([][]byte, error) {
	iter, err := w.db.NewIter(&pebble.IterOptions{LowerBound: []byte{walPrefix}, UpperBound: []byte{walPrefix + 1}})
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	var out [][]byte
	for ok := iter.First(); ok; ok = iter.Next() {
		v, err := iter.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWALCorrupt, err)
		}
		out = append(out, append([]byte(nil), v...))
	}
	return out, iter.Error()
}

// Replace atomically swaps the whole log for records (compaction after a
// stable checkpoint), in one fsynced batch: a crash leaves the old log or
// the new one.
func (w *WAL) Replace(records [][]byte) error {
	batch := w.db.NewBatch()
	defer batch.Close()
	if err := batch.DeleteRange(walKey(0), walKey(w.next), nil); err != nil {
		return err
	}
	next := w.next
	for _, rec := range records {
		if err := batch.Set(walKey(next), rec, nil); err != nil {
			return err
		}
		next++
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("consensus wal: replace: %w", err)
	}
	w.next = next
	return nil
}

func walKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte{walPrefix}, seq) }
