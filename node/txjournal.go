package node

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// txJournal makes a wallet's acknowledgment durable: a tx accepted over RPC
// is written, and fsynced, before the node answers with its hash, so a
// crash (even SIGKILL) right after the answer loses nothing. The fsyncs
// are grouped (journalSync): under load one fsync covers every write made
// since the last. Committed txs are forgotten; at start-up the journal is
// replayed into the mempool. Txs that arrive by gossip are not journaled:
// a peer holds them too.
//
// The journal is one append-only file of checksummed records: a tx, or
// the hashes of txs forgotten. A tx lives for seconds, so a keyed store
// would insert and then delete every one (two memtable inserts on random
// keys, and Pebble's own log, about 10 us a tx); appending costs a copy.
// The file is rewritten with only the txs still held once it is mostly
// dead records (rotate), and at every open, which also cuts off a record
// torn by a crash.
//
// The journal remembers which hashes it holds (and their bytes, for the
// rewrite), so committing a block records only the txs this node
// journaled, and sweep drops those that left the mempool without
// committing (evicted, replaced): every so many heights, and on a write
// once more txs are held than the mempool can hold (limitHeld).
type txJournal struct {
	fs   vfs.FS
	dir  string
	sync *journalSync
	log  *slog.Logger

	mu        sync.Mutex
	file      vfs.File
	fileBytes int64 // the file's length, records written so far
	held      map[crypto.Hash][]byte
	heldBytes int64  // the records the held txs take
	writes    uint64 // write calls so far; journalSync's sequence
	failed    error  // a write or rewrite that failed: every later write reports it
	// rotateBytes: rewrite once the file is longer than this and more
	// than twice what the held txs take.
	rotateBytes int64
	// pending, if set, says whether a held tx is still in the mempool;
	// a write that leaves more than heldMax txs held sweeps with it.
	pending func(crypto.Hash) bool
	heldMax int
}

// Journal file layout. A record is a 4-byte big-endian length n, a 4-byte
// CRC-32C of the n bytes that follow, then those n bytes: a kind byte and
// its data (a tx's canonical encoding, or forgotten 32-byte hashes).
const (
	journalFile     = "txs.journal"
	journalTempFile = "txs.journal.tmp"

	journalRecordHeader = 8
	journalKindTx       = 1
	journalKindForget   = 2
	// journalForgetMax bounds the hashes of one forget record.
	journalForgetMax = 1024
	// journalRecordMax bounds a record's length: a reader refuses more
	// before reading it.
	journalRecordMax = 1 + max(ledger.TxBytesMax, journalForgetMax*crypto.HashBytes)
	// journalRotateBytes: see txJournal.rotateBytes. Ingress at 2,000 tx/s
	// writes about 0.7 MB/s, so the file is rewritten every few seconds
	// with what the mempool still holds of this node's txs.
	journalRotateBytes = 4 << 20
)

var journalCRC = crc32.MakeTable(crc32.Castagnoli)

// openTxJournal opens (or creates) the journal in dir; observeSync, if not
// nil, is told how long each fsync took.
func openTxJournal(dir string, logger *slog.Logger, observeSync func(time.Duration)) (*txJournal, error) {
	return openTxJournalFS(dir, nil, logger, observeSync)
}

// openTxJournalFS is openTxJournal on fs (nil: the OS's), for crash tests.
// It reads the file, takes in a journal left by a version that kept it in
// Pebble, and rewrites the file with what is held.
func openTxJournalFS(dir string, fs vfs.FS, logger *slog.Logger, observeSync func(time.Duration)) (*txJournal, error) {
	if fs == nil {
		fs = vfs.Default
	}
	j := &txJournal{fs: fs, dir: dir, log: logger, held: make(map[crypto.Hash][]byte), rotateBytes: journalRotateBytes}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open tx journal %s: %w", dir, err)
	}
	// The directory itself must survive a crash, or the file in it does not.
	if err := syncDir(fs, fs.PathDir(dir)); err != nil {
		return nil, fmt.Errorf("open tx journal %s: %w", dir, err)
	}
	if err := j.read(); err != nil {
		return nil, fmt.Errorf("open tx journal %s: %w", dir, err)
	}
	legacy, err := j.importPebble()
	if err != nil {
		return nil, fmt.Errorf("open tx journal %s: %w", dir, err)
	}
	if err := j.rewrite(); err != nil {
		return nil, fmt.Errorf("open tx journal %s: %w", dir, err)
	}
	for _, name := range legacy {
		if err := fs.RemoveAll(fs.PathJoin(dir, name)); err != nil {
			return nil, fmt.Errorf("open tx journal %s: remove the former store: %w", dir, err)
		}
	}
	j.sync = startJournalSync(j.flush, observeSync)
	return j, nil
}

// Close makes every write durable, then closes the journal. It fails if
// that last fsync did: the writes since the one before may be lost.
func (j *txJournal) Close() error {
	serr := j.sync.close()
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.file.Close()
	j.failed = errors.Join(j.failed, errors.New("tx journal closed"))
	return errors.Join(serr, err)
}

// read loads the file's held txs. It stops at the first record that is
// cut short or fails its checksum: only the end of the file, past the
// last fsync, can be torn by a crash, and the rewrite at open drops it.
func (j *txJournal) read() error {
	path := j.fs.PathJoin(j.dir, journalFile)
	f, err := j.fs.Open(path)
	if err != nil {
		if _, serr := j.fs.Stat(path); serr != nil {
			return nil // no journal yet
		}
		return err
	}
	defer f.Close()
	n, dropped, err := readJournal(bufio.NewReaderSize(f, 64<<10), j.apply)
	if err != nil {
		return err
	}
	if dropped != "" && j.log != nil {
		j.log.Warn("tx journal ends in a damaged record; the records before it are kept", "records", n, "reason", dropped)
	}
	return nil
}

// readJournal hands each record of r to apply and returns how many it
// read, and why it stopped early ("" at a clean end). Only a failing read
// is an error.
func readJournal(r io.Reader, apply func(kind byte, data []byte)) (records int, stopped string, err error) {
	var hdr [journalRecordHeader]byte
	buf := make([]byte, journalRecordMax)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			switch {
			case errors.Is(err, io.EOF):
				return records, "", nil
			case errors.Is(err, io.ErrUnexpectedEOF):
				return records, "record header cut short", nil
			}
			return records, "", err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > journalRecordMax {
			return records, fmt.Sprintf("record length %d", n), nil
		}
		rec := buf[:n]
		if _, err := io.ReadFull(r, rec); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return records, "record cut short", nil
			}
			return records, "", err
		}
		if crc32.Checksum(rec, journalCRC) != binary.BigEndian.Uint32(hdr[4:]) {
			return records, "checksum mismatch", nil
		}
		apply(rec[0], rec[1:])
		records++
	}
}

// apply takes one record read back into held. A tx that does not decode
// is skipped (replay would refuse it anyway); so are unknown kinds.
func (j *txJournal) apply(kind byte, data []byte) {
	switch kind {
	case journalKindTx:
		tx, err := ledger.DecodeTx(data)
		if err != nil {
			return
		}
		h := tx.Hash()
		if _, ok := j.held[h]; !ok {
			j.held[h] = append([]byte(nil), data...)
			j.heldBytes += journalRecordHeader + 1 + int64(len(data))
		}
	case journalKindForget:
		for i := 0; i+crypto.HashBytes <= len(data); i += crypto.HashBytes {
			j.drop(crypto.Hash(data[i : i+crypto.HashBytes]))
		}
	}
}

// drop forgets h if held, and reports whether it was.
func (j *txJournal) drop(h crypto.Hash) bool {
	enc, ok := j.held[h]
	if ok {
		delete(j.held, h)
		j.heldBytes -= journalRecordHeader + 1 + int64(len(enc))
	}
	return ok
}

// importPebble takes in the txs of a journal kept in Pebble (keys 't' and
// the tx hash), as nodes before the file journal wrote it, and returns the
// names of that store's files, to remove once the file holds them.
func (j *txJournal) importPebble() ([]string, error) {
	names, err := j.fs.List(j.dir)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "MANIFEST-") }) {
		return nil, nil
	}
	db, err := pebble.Open(j.dir, &pebble.Options{Logger: ledger.PebbleLogger(j.log), FS: j.fs, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("former journal store: %w", err)
	}
	iter, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{'t'}, UpperBound: []byte{'t' + 1}})
	if err != nil {
		db.Close()
		return nil, err
	}
	imported := 0
	for ok := iter.First(); ok; ok = iter.Next() {
		j.apply(journalKindTx, iter.Value())
		imported++
	}
	if err := errors.Join(iter.Error(), iter.Close(), db.Close()); err != nil {
		return nil, fmt.Errorf("former journal store: %w", err)
	}
	var legacy []string
	for _, name := range names {
		if !strings.HasPrefix(name, "txs.journal") {
			legacy = append(legacy, name)
		}
	}
	if j.log != nil {
		j.log.Info("tx journal moved out of its former store", "txs", imported)
	}
	return legacy, nil
}

// rewrite replaces the file with one holding only the held txs: written
// to a temporary file, fsynced, renamed over the journal, and the
// directory fsynced, so a crash leaves the old file or the new one. It
// needs j.mu (or no other user yet), and it leaves every write made so
// far durable.
func (j *txJournal) rewrite() error {
	tmp := j.fs.PathJoin(j.dir, journalTempFile)
	f, err := j.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	var size int64
	for _, enc := range j.held {
		rec := appendJournalRecord(nil, journalKindTx, enc)
		if _, err := w.Write(rec); err != nil {
			f.Close()
			return err
		}
		size += int64(len(rec))
	}
	if err := errors.Join(w.Flush(), f.Sync()); err != nil {
		f.Close()
		return err
	}
	if err := j.fs.Rename(tmp, j.fs.PathJoin(j.dir, journalFile)); err != nil {
		f.Close()
		return err
	}
	// From the rename on, the new file is the journal: append to it even
	// if the directory's fsync fails (flush then fails every write until
	// a rewrite's rename is durable).
	if j.file != nil {
		j.file.Close() // its records are all in the new file or forgotten
	}
	j.file, j.fileBytes, j.heldBytes = f, size, size
	return syncDir(j.fs, j.dir)
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// appendJournalRecord appends one record of kind with data to buf.
func appendJournalRecord(buf []byte, kind byte, data []byte) []byte {
	at := len(buf)
	buf = append(buf, make([]byte, journalRecordHeader)...)
	buf = append(buf, kind)
	buf = append(buf, data...)
	rec := buf[at+journalRecordHeader:]
	binary.BigEndian.PutUint32(buf[at:], uint32(len(rec)))
	binary.BigEndian.PutUint32(buf[at+4:], crc32.Checksum(rec, journalCRC))
	return buf
}

// add journals txs durably and returns once an fsync covers them.
func (j *txJournal) add(txs []*ledger.Tx) error { return j.write(txs)() }

// write appends txs without waiting for the disk, and returns durable,
// which waits until an fsync (or a rewrite, after a failed write) covers
// them and says why if none could. The caller may go on meanwhile (the
// ingress gossips the txs) and answers the wallet only once durable
// returns nil.
func (j *txJournal) write(txs []*ledger.Tx) (durable func() error) {
	var buf []byte
	encs := make([][]byte, len(txs))
	for i, tx := range txs {
		encs[i] = tx.Encode()
		buf = appendJournalRecord(buf, journalKindTx, encs[i])
	}
	j.mu.Lock()
	// The txs are held even if the append fails: they are in the mempool
	// either way, and a failed append makes the next flush rewrite the
	// file from what is held, so the wait below ends with that rewrite,
	// durable, or with why it failed.
	_ = j.appendLocked(buf)
	for i, tx := range txs {
		if _, ok := j.held[tx.Hash()]; !ok {
			j.held[tx.Hash()] = encs[i]
			j.heldBytes += journalRecordHeader + 1 + int64(len(encs[i]))
		}
	}
	j.writes++
	seq := j.writes
	pending := j.pending
	sweep := pending != nil && len(j.held) > j.heldMax
	j.mu.Unlock()
	if sweep {
		// A failed append of its forget records fails the next flush,
		// which rewrites the file from what is held; the wait reports it.
		_ = j.sweep(pending)
	}
	return j.sync.written(seq)
}

// limitHeld makes a write that leaves more than heldMax txs held sweep
// first with pending. The sweep at commit heights keeps the journal as
// small as the mempool only while blocks commit: while the chain stalls,
// every tx a wallet gets in by eviction or by a fee bump leaves the one
// it displaced held for good, and a sender bumping its own fees over and
// over would grow the journal, in memory and on disk, without bound.
func (j *txJournal) limitHeld(heldMax int, pending func(crypto.Hash) bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.heldMax, j.pending = heldMax, pending
}

// appendLocked writes records at the end of the file. A failed write
// leaves the file's end unknown, so it fails every later write too, until
// flush has rewritten the file.
func (j *txJournal) appendLocked(records []byte) error {
	if j.failed != nil {
		return j.failed
	}
	if _, err := j.file.Write(records); err != nil {
		j.failed = fmt.Errorf("tx journal write failed earlier: %w", err)
		return err
	}
	j.fileBytes += int64(len(records))
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

// forget drops the given hashes the journal holds, and ignores the rest.
func (j *txJournal) forget(hashes []crypto.Hash) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.forgetLocked(hashes)
}

func (j *txJournal) forgetLocked(hashes []crypto.Hash) error {
	var buf, data []byte
	for _, h := range hashes {
		if !j.drop(h) {
			continue
		}
		data = append(data, h[:]...)
		if len(data) == journalForgetMax*crypto.HashBytes {
			buf, data = appendJournalRecord(buf, journalKindForget, data), data[:0]
		}
	}
	if len(data) > 0 {
		buf = appendJournalRecord(buf, journalKindForget, data)
	}
	if len(buf) == 0 {
		return nil
	}
	return j.appendLocked(buf)
}

// sweep forgets the journaled txs pending no longer reports (they left
// the mempool without committing), so the journal stays as small as the
// mempool however long the node runs. It decides and forgets under one
// lock: a wallet may send a tx again after it left the mempool, and a
// write of it landing in between would find it still held, add nothing,
// and see it forgotten right after its acknowledgment.
func (j *txJournal) sweep(pending func(crypto.Hash) bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var gone []crypto.Hash
	for h := range j.held {
		if !pending(h) {
			gone = append(gone, h)
		}
	}
	return j.forgetLocked(gone)
}

// size is the number of txs journaled.
func (j *txJournal) size() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.held)
}

// replay hands every journaled tx to add, senders' txs in nonce order,
// and forgets those add refuses for good (committed meanwhile, or no
// longer valid).
func (j *txJournal) replay(add func(*ledger.Tx) error) (kept, dropped int, err error) {
	j.mu.Lock()
	var txs []*ledger.Tx
	var bad []crypto.Hash
	for h, enc := range j.held {
		tx, derr := ledger.DecodeTx(enc)
		if derr != nil {
			bad = append(bad, h)
			continue
		}
		txs = append(txs, tx)
	}
	j.mu.Unlock()
	// Senders' txs must go in nonce order, or later nonces look like gaps;
	// the hash breaks ties so replay does not depend on map order.
	slices.SortFunc(txs, func(a, b *ledger.Tx) int {
		if c := cmp.Compare(a.Nonce, b.Nonce); c != 0 {
			return c
		}
		ha, hb := a.Hash(), b.Hash()
		return slices.Compare(ha[:], hb[:])
	})
	refused := bad
	for _, tx := range txs {
		if add(tx) == nil {
			kept++
		} else {
			refused = append(refused, tx.Hash())
		}
	}
	return kept, len(refused), j.forget(refused)
}

// flush is journalSync's fsync: it makes every write so far durable and
// returns the sequence number of the last. It rewrites the file when it
// is mostly forgotten records, and when a write or an fsync failed: the
// file's end is then unknown, every write fails until a rewrite from the
// txs held in memory succeeds (a disk that was full, once it has room).
// Only the syncing goroutine calls it.
func (j *txJournal) flush() (uint64, error) {
	j.mu.Lock()
	f, covered, failed := j.file, j.writes, j.failed
	rotate := failed != nil || j.fileBytes > j.rotateBytes && j.fileBytes > 2*j.heldBytes
	j.mu.Unlock()
	if rotate {
		j.mu.Lock()
		covered = j.writes
		before := j.file
		err := j.rewrite()
		switch {
		case err == nil:
			j.failed = nil
		case j.file != before && j.failed == nil:
			// Renamed over the journal, but the directory's fsync
			// failed: a crash may bring back the old file, whose latest
			// records were never fsynced (a rotation fsyncs the new one
			// instead). Nothing is durable until a rewrite's rename is.
			j.failed = fmt.Errorf("tx journal directory fsync failed earlier: %w", err)
			j.mu.Unlock()
			return 0, err
		}
		f, failed = j.file, j.failed
		j.mu.Unlock()
		if err == nil {
			return covered, nil
		}
		if failed != nil {
			return 0, fmt.Errorf("%w (rewriting the journal: %v)", failed, err)
		}
		// The rewrite failed before its rename: the journal is still the
		// old file, whole; fsync it as if there had been no rewrite.
		if j.log != nil {
			j.log.Warn("tx journal rewrite failed", "err", err)
		}
	}
	// Appends after this point are not covered; that is what covered says.
	if err := f.SyncData(); err != nil {
		// After a failed fsync the kernel may have dropped the unsynced
		// pages: trust only a rewrite.
		j.mu.Lock()
		if j.failed == nil {
			j.failed = fmt.Errorf("tx journal fsync failed earlier: %w", err)
		}
		j.mu.Unlock()
		return 0, err
	}
	return covered, nil
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

// journalSync is group commit for the journal: writes are appended
// without an fsync, and one goroutine makes them durable with flush,
// which fsyncs the file (sequential, so one fsync covers every write
// before it) and returns the last write it covers.
type journalSync struct {
	flush   func() (covered uint64, err error)
	observe func(time.Duration) // nil, or told each fsync's duration

	mu      sync.Mutex
	fsyncs  uint64        // fsyncs done, for tests
	synced  uint64        // writes an fsync covers
	started uint64        // fsyncs started
	err     error         // why the last fsync failed
	errAt   uint64        // which fsync (by started) failed with err
	next    chan struct{} // closed when the next fsync ends
	wake    chan struct{} // 1-buffered: a write waits for an fsync
	stop    chan struct{}
	stopped chan struct{}
}

func startJournalSync(flush func() (uint64, error), observe func(time.Duration)) *journalSync {
	s := &journalSync{flush: flush, observe: observe, next: make(chan struct{}), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go s.run()
	return s
}

// written returns a wait for the fsync of write seq (the journal numbers
// its writes from 1).
//
// Only an fsync that starts after the call can fail the write: one that
// failed earlier did not try to cover it, and the wake signal below asks
// for another.
func (s *journalSync) written(seq uint64) (durable func() error) {
	s.mu.Lock()
	after := s.started
	s.mu.Unlock()
	signal(s.wake)
	return func() error {
		for {
			s.mu.Lock()
			done, err, errAt, next := s.synced >= seq, s.err, s.errAt, s.next
			s.mu.Unlock()
			if done {
				return nil
			}
			if err != nil && errAt > after {
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

// kick asks for a flush with no write to wait for it.
func (s *journalSync) kick() { signal(s.wake) }

// syncOnce fsyncs the writes made so far and wakes their waiters. The
// channel waiters hold is swapped only once the fsync has ended: a waiter
// that took it during the fsync must wake when it ends, to see whether
// this fsync covered its write (its wake signal asks for the next one).
func (s *journalSync) syncOnce() {
	s.mu.Lock()
	s.started++
	at := s.started
	s.mu.Unlock()
	start := time.Now()
	covered, err := s.flush()
	if s.observe != nil {
		s.observe(time.Since(start))
	}
	s.mu.Lock()
	if err != nil {
		s.err, s.errAt = fmt.Errorf("journal fsync: %w", err), at
	} else {
		s.synced, s.err = max(s.synced, covered), nil
	}
	s.fsyncs++
	done := s.next
	s.next = make(chan struct{})
	s.mu.Unlock()
	close(done)
}

// close makes the writes so far durable, stops the goroutine and returns
// that last fsync's error.
func (s *journalSync) close() error {
	close(s.stop)
	<-s.stopped
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err // the last fsync's: one that succeeds clears it
}
