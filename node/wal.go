package node

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble/v2"

	"github.com/synod-chain/synod/ledger"
)

// The consensus write-ahead records (the engine's Ready.Persist) live in
// the store's log (ledger/store_log.go), so that a Ready's records and the
// blocks it commits share one fsync. Nodes before that kept them in a
// Pebble instance of their own, in legacyWALDir; importLegacyWAL moves
// them over once.

// ErrWALCorrupt is returned when the consensus records cannot be read back
// as written.
var ErrWALCorrupt = errors.New("consensus wal: corrupt")

// legacyWALDir is the data directory's former consensus WAL.
const legacyWALDir = "consensus"

// legacyWALPrefix started every record key of the former WAL; a
// big-endian sequence number followed it.
const legacyWALPrefix = 'r'

// importLegacyWAL moves the records of a former consensus WAL in dir into
// the store's log, then removes dir; nothing happens when dir does not
// exist. A crash part-way is safe: the records are written to the store
// (fsynced) before dir goes, and a second run finds them there and only
// removes dir.
func importLegacyWAL(dir string, store *ledger.Store, logger *slog.Logger) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("legacy consensus wal: %w", err)
	}
	have, err := store.LogRecords()
	if err != nil {
		return err
	}
	if len(have) == 0 {
		records, err := readLegacyWAL(dir, logger)
		if err != nil {
			return err
		}
		if err := store.ReplaceLog(records); err != nil {
			return err
		}
		if logger != nil {
			logger.Info("consensus wal moved into the store", "records", len(records), "from", dir)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("legacy consensus wal: remove after import: %w", err)
	}
	return nil
}

// readLegacyWAL returns the former WAL's records in order.
func readLegacyWAL(dir string, logger *slog.Logger) ([][]byte, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: ledger.PebbleLogger(logger), ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open legacy consensus wal %s: %w", dir, err)
	}
	defer db.Close()
	iter, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{legacyWALPrefix}, UpperBound: []byte{legacyWALPrefix + 1}})
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
		if len(v) > ledger.LogRecordBytesMax {
			return nil, fmt.Errorf("%w: record of %d bytes", ErrWALCorrupt, len(v))
		}
		out = append(out, append([]byte(nil), v...))
	}
	return out, iter.Error()
}
