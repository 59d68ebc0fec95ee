package node

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

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
//
// The journal remembers which hashes it holds, so committing a block
// deletes only the txs this node journaled (a delete of every committed
// tx would leave tombstones for compaction to clear), and sweep drops
// those that left the mempool without committing (evicted, replaced).
type txJournal struct {
	db *pebble.DB

	mu   sync.Mutex
	held map[crypto.Hash]struct{}
}

func openTxJournal(dir string, logger *slog.Logger) (*txJournal, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: ledger.PebbleLogger(logger), MemTableSize: shortLivedMemTableBytes})
	if err != nil {
		return nil, fmt.Errorf("open tx journal %s: %w", dir, err)
	}
	return &txJournal{db: db, held: make(map[crypto.Hash]struct{})}, nil
}

func (j *txJournal) Close() error { return j.db.Close() }

func journalKey(h crypto.Hash) []byte { return append([]byte{journalPrefix}, h[:]...) }

// add journals txs durably, in one batch and one fsync.
func (j *txJournal) add(txs []*ledger.Tx) error {
	batch := j.db.NewBatch()
	defer batch.Close()
	hashes := make([]crypto.Hash, len(txs))
	for i, tx := range txs {
		hashes[i] = tx.Hash()
		if err := batch.Set(journalKey(hashes[i]), tx.Encode(), nil); err != nil {
			return fmt.Errorf("journal tx: %w", err)
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("journal %d txs: %w", len(txs), err)
	}
	j.mu.Lock()
	for _, h := range hashes {
		j.held[h] = struct{}{}
	}
	j.mu.Unlock()
	return nil
}

// remove forgets committed txs. No fsync: after a crash a committed tx may
// come back from the journal, and the mempool refuses it (nonce too low).
func (j *txJournal) remove(txs []*ledger.Tx) error {
	hashes := make([]crypto.Hash, len(txs))
	for i, tx := range txs {
		hashes[i] = tx.Hash()
	}
	return j.forget(hashes)
}

// forget deletes the given hashes the journal holds, and ignores the rest.
func (j *txJournal) forget(hashes []crypto.Hash) error {
	j.mu.Lock()
	var held []crypto.Hash
	for _, h := range hashes {
		if _, ok := j.held[h]; ok {
			held = append(held, h)
			delete(j.held, h)
		}
	}
	j.mu.Unlock()
	if len(held) == 0 {
		return nil
	}
	batch := j.db.NewBatch()
	defer batch.Close()
	for _, h := range held {
		if err := batch.Delete(journalKey(h), nil); err != nil {
			return err
		}
	}
	return batch.Commit(pebble.NoSync)
}

// sweep forgets the journaled txs pending no longer reports (they left
// the mempool without committing), so the journal stays as small as the
// mempool however long the node runs.
func (j *txJournal) sweep(pending func(crypto.Hash) bool) error {
	j.mu.Lock()
	var gone []crypto.Hash
	for h := range j.held {
		if !pending(h) {
			gone = append(gone, h)
		}
	}
	j.mu.Unlock()
	return j.forget(gone)
}

// size is the number of txs journaled.
func (j *txJournal) size() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.held)
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
		j.mu.Lock()
		j.held[tx.Hash()] = struct{}{}
		j.mu.Unlock()
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
