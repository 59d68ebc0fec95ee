package node

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// journalPrefix starts every journaled tx's key (then the tx hash).
const journalPrefix = 't'

// txJournal makes a wallet's acknowledgment durable: a tx accepted over RPC
// is written, fsynced, before the node answers with its hash, so a crash
// (even SIGKILL) right after the answer loses nothing. Pebble's commit
// pipeline merges the fsyncs of concurrent submissions into one. Committed
// txs are deleted; at start-up the journal is replayed into the mempool.
// Txs that arrive by gossip are not journaled: a peer holds them too.
type txJournal struct {
	db *pebble.DB
}

func openTxJournal(dir string, logger *slog.Logger) (*txJournal, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: ledger.PebbleLogger(logger)})
	if err != nil {
		return nil, fmt.Errorf("open tx journal %s: %w", dir, err)
	}
	return &txJournal{db: db}, nil
}

func (j *txJournal) Close() error { return j.db.Close() }

func journalKey(h crypto.Hash) []byte { return append([]byte{journalPrefix}, h[:]...) }

// add journals txs durably, in one batch and one fsync.
func (j *txJournal) add(txs []*ledger.Tx) error {
	batch := j.db.NewBatch()
	defer batch.Close()
	for _, tx := range txs {
		if err := batch.Set(journalKey(tx.Hash()), tx.Encode(), nil); err != nil {
			return fmt.Errorf("journal tx: %w", err)
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("journal %d txs: %w", len(txs), err)
	}
	return nil
}

// remove forgets committed txs (those never journaled here cost a
// tombstone that compaction drops). No fsync: after a crash a committed tx may
// come back from the journal, and the mempool refuses it (nonce too low).
func (j *txJournal) remove(txs []*ledger.Tx) error {
	if len(txs) == 0 {
		return nil
	}
	batch := j.db.NewBatch()
	defer batch.Close()
	for _, tx := range txs {
		if err := batch.Delete(journalKey(tx.Hash()), nil); err != nil {
			return err
		}
	}
	return batch.Commit(pebble.NoSync)
}

// replay hands every journaled tx to add, in key order, and deletes those
// add refuses for good (committed meanwhile, or no longer valid).
func (j *txJournal) replay(add func(*ledger.Tx) error) (kept, dropped int, err error) {
	iter, err := j.db.NewIter(&pebble.IterOptions{LowerBound: []byte{journalPrefix}, UpperBound: []byte{journalPrefix + 1}})
	if err != nil {
		return 0, 0, err
	}
	var txs []*ledger.Tx
	var bad [][]byte
	for ok := iter.First(); ok; ok = iter.Next() {
		tx, derr := ledger.DecodeTx(iter.Value())
		if derr != nil {
			bad = append(bad, append([]byte(nil), iter.Key()...))
			continue
		}
		txs = append(txs, tx)
	}
	if err := errors.Join(iter.Error(), iter.Close()); err != nil {
		return 0, 0, err
	}
	// Senders' txs must go in nonce order, or later nonces look like gaps.
	sortByNonce(txs)
	var refused []*ledger.Tx
	for _, tx := range txs {
		if add(tx) == nil {
			kept++
		} else {
			refused = append(refused, tx)
		}
	}
	for _, k := range bad {
		if err := j.db.Delete(k, pebble.NoSync); err != nil {
			return kept, 0, err
		}
	}
	return kept, len(refused) + len(bad), j.remove(refused)
}

// sortByNonce orders txs by nonce, stably, so each sender's txs are
// replayed in order whatever their hash order in the journal.
func sortByNonce(txs []*ledger.Tx) {
	slices.SortStableFunc(txs, func(a, b *ledger.Tx) int { return cmp.Compare(a.Nonce, b.Nonce) })
}
