package node

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// journalPrefix starts every journaled tx's key (then the tx hash).
const journalPrefix = 't'

// txJournal makes a wallet's acknowledgment durable: a tx accepted over RPC
// is written, and fsynced, before the node answers with its hash, so a
// crash (even SIGKILL) right after the answer loses nothing. The fsyncs
// are grouped (journalSync): under load one fsync covers every write made
// since the last. Committed txs are deleted; at start-up the journal is
// replayed into the mempool. Txs that arrive by gossip are not journaled:
// a peer holds them too.
//
// The journal remembers which hashes it holds, so committing a block
// deletes only the txs this node journaled (a delete of every committed
// tx would leave tombstones for compaction to clear), and sweep drops
// those that left the mempool without committing (evicted, replaced).
type txJournal struct {
	db   *pebble.DB
	sync *journalSync

	mu   sync.Mutex
	held map[crypto.Hash]struct{}
}

// openTxJournal opens (or creates) the journal in dir; observeSync, if not
// nil, is told how long each fsync took.
func openTxJournal(dir string, logger *slog.Logger, observeSync func(time.Duration)) (*txJournal, error) {
	return openTxJournalFS(dir, nil, logger, observeSync)
}

// openTxJournalFS is openTxJournal on fs (nil: the OS's), for crash tests.
func openTxJournalFS(dir string, fs vfs.FS, logger *slog.Logger, observeSync func(time.Duration)) (*txJournal, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: ledger.PebbleLogger(logger), MemTableSize: shortLivedMemTableBytes, FS: fs})
	if err != nil {
		return nil, fmt.Errorf("open tx journal %s: %w", dir, err)
	}
	return &txJournal{db: db, sync: startJournalSync(db, observeSync), held: make(map[crypto.Hash]struct{})}, nil
}

// Close makes every write durable, then closes the journal.
func (j *txJournal) Close() error {
	j.sync.close()
	return j.db.Close()
}

func journalKey(h crypto.Hash) []byte { return append([]byte{journalPrefix}, h[:]...) }

// add journals txs durably, in one batch, and returns once an fsync
// covers them.
func (j *txJournal) add(txs []*ledger.Tx) error { return j.write(txs)() }

// write journals txs in one batch without waiting for the disk, and
// returns durable, which waits until an fsync covers them and says why if
// none could. The caller may go on meanwhile (the ingress gossips the
// txs) and answers the wallet only once durable returns nil.
func (j *txJournal) write(txs []*ledger.Tx) (durable func() error) {
	batch := j.db.NewBatch()
	defer batch.Close()
	hashes := make([]crypto.Hash, len(txs))
	for i, tx := range txs {
		hashes[i] = tx.Hash()
		if err := batch.Set(journalKey(hashes[i]), tx.Encode(), nil); err != nil {
			return func() error { return fmt.Errorf("journal tx: %w", err) }
		}
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return func() error { return fmt.Errorf("journal %d txs: %w", len(txs), err) }
	}
	j.mu.Lock()
	for _, h := range hashes {
		j.held[h] = struct{}{}
	}
	j.mu.Unlock()
	return j.sync.written()
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

// journalSyncSpacing is the least time between two journal fsyncs. An
// fsync starts as soon as a write waits for one and none ran in the last
// journalSyncSpacing, so a lone wallet waits for one fsync; under load the
// writes of each interval share one. Without the spacing the ingress kept
// the disk busy with back-to-back fsyncs of a dozen txs each, about 140 a
// second per node at 8,000 tx/s on four local validators, and the
// consensus WAL and the ledger, fsyncing on the same disk, waited behind
// them. Gossip does not wait for it, so only the wallet's answer does.
const journalSyncSpacing = 25 * time.Millisecond

// journalSync is group commit for the journal: writes go to Pebble without
// an fsync, and one goroutine makes them durable by syncing Pebble's
// write-ahead log, which is sequential, so one sync covers every write
// before it.
type journalSync struct {
	db      *pebble.DB
	observe func(time.Duration) // nil, or told each fsync's duration

	mu      sync.Mutex
	fsyncs  uint64        // fsyncs done, for tests
	writes  uint64        // writes made
	synced  uint64        // writes an fsync covers
	err     error         // why the last fsync failed; writes after it wait for the next
	next    chan struct{} // closed when the next fsync ends
	wake    chan struct{} // 1-buffered: a write waits for an fsync
	stop    chan struct{}
	stopped chan struct{}
}

func startJournalSync(db *pebble.DB, observe func(time.Duration)) *journalSync {
	s := &journalSync{db: db, observe: observe, next: make(chan struct{}), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go s.run()
	return s
}

// written records a write made and returns a wait for its fsync.
func (s *journalSync) written() (durable func() error) {
	s.mu.Lock()
	s.writes++
	seq := s.writes
	s.mu.Unlock()
	signal(s.wake)
	return func() error {
		for {
			s.mu.Lock()
			done, err, next := s.synced >= seq, s.err, s.next
			s.mu.Unlock()
			if done {
				return nil
			}
			if err != nil {
				return err
			}
			<-next
		}
	}
}

func (s *journalSync) run() {
	defer close(s.stopped)
	var last time.Time
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			s.syncOnce() // close: whatever was written becomes durable
			return
		}
		if wait := journalSyncSpacing - time.Since(last); wait > 0 {
			select {
			case <-time.After(wait):
			case <-s.stop:
			}
		}
		last = time.Now()
		s.syncOnce()
	}
}

// syncOnce fsyncs the writes made so far and wakes their waiters. The
// channel waiters hold is swapped only once the fsync has ended: a waiter
// that took it during the fsync must wake when it ends, to see whether
// this fsync covered its write (its wake signal asks for the next one).
func (s *journalSync) syncOnce() {
	s.mu.Lock()
	target := s.writes
	s.mu.Unlock()
	start := time.Now()
	err := s.db.LogData(nil, pebble.Sync)
	if s.observe != nil {
		s.observe(time.Since(start))
	}
	s.mu.Lock()
	if err != nil {
		s.err = fmt.Errorf("journal fsync: %w", err)
	} else {
		s.synced, s.err = target, nil
	}
	s.fsyncs++
	done := s.next
	s.next = make(chan struct{})
	s.mu.Unlock()
	close(done)
}

// close makes the writes so far durable and stops the goroutine.
func (s *journalSync) close() {
	close(s.stop)
	<-s.stopped
}
