package node

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// TestTxJournalReplaysUncommittedInNonceOrder journals txs, removes the
// committed one, reopens the journal (as after a crash) and checks that the
// rest are replayed in nonce order and that refused ones are dropped for
// good.
// journalFixture opens a journal in a fresh directory and signs n
// transfers of one sender, nonces 0…n-1.
func journalFixture(t *testing.T, n int) (dir string, j *txJournal, txs []*ledger.Tx) {
	t.Helper()
	g, _, accts := testGenesis(t, 1, 1)
	dir = t.TempDir()
	j, err := openTxJournal(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for nonce := range uint64(n) {
		tx := &ledger.Tx{ChainID: g.ChainID, Nonce: nonce, To: accts[0].Public().Address(), Amount: 1}
		tx.Sign(accts[0])
		txs = append(txs, tx)
	}
	return dir, j, txs
}

func TestTxJournalReplaysUncommittedInNonceOrder(t *testing.T) {
	dir, j, txs := journalFixture(t, 5)
	for _, tx := range txs {
		if err := j.add([]*ledger.Tx{tx}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.remove(txs[:1]); err != nil {
		t.Fatal(err)
	}
	j.Close()

	j, err := openTxJournal(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	kept, dropped, err := j.replay(func(tx *ledger.Tx) error {
		if tx.Nonce == 4 {
			return errors.New("refused")
		}
		got = append(got, tx.Nonce)
		return nil
	})
	if err != nil || kept != 3 || dropped != 1 {
		t.Fatalf("replay: kept %d dropped %d err %v", kept, dropped, err)
	}
	for i, n := range got {
		if n != uint64(i+1) {
			t.Fatalf("replayed nonces %v, want 1 2 3", got)
		}
	}
	kept, dropped, err = j.replay(func(*ledger.Tx) error { return nil })
	if err != nil || kept != 3 || dropped != 0 {
		t.Fatalf("second replay: kept %d dropped %d err %v (the refused tx must be gone)", kept, dropped, err)
	}
	j.Close()
}

// TestTxJournalForgetsOnlyWhatItHolds: committing forgets the journaled
// txs of a block and ignores the others; sweep forgets journaled txs that
// left the mempool; a reopened journal replays only what is left.
func TestTxJournalForgetsOnlyWhatItHolds(t *testing.T) {
	dir, j, txs := journalFixture(t, 4)
	if err := j.add(txs[:3]); err != nil {
		t.Fatal(err)
	}
	// A block with txs 0 and 3; 3 came by gossip and was never journaled.
	if err := j.remove([]*ledger.Tx{txs[0], txs[3]}); err != nil {
		t.Fatal(err)
	}
	if n := j.size(); n != 2 {
		t.Fatalf("journal holds %d txs after the commit, want 2", n)
	}
	// Tx 1 is still pending; tx 2 was evicted.
	if err := j.sweep(func(h crypto.Hash) bool { return h == txs[1].Hash() }); err != nil {
		t.Fatal(err)
	}
	if n := j.size(); n != 1 {
		t.Fatalf("journal holds %d txs after the sweep, want 1", n)
	}
	j.Close()
	if got := replayNonces(t, dir); len(got) != 1 || got[0] != 1 {
		t.Fatalf("replayed nonces %v, want [1]", got)
	}
}

// TestTxJournalAckedWritesSurviveCrashes: concurrent writers journal txs
// and count one as acknowledged once its durable wait returns, as the
// ingress answers wallets; meanwhile the test takes crash clones of the
// file system, each keeping a random share of the data not yet synced.
// Every clone must reopen with every tx acknowledged before it was taken,
// and the writes must have shared fsyncs.
func TestTxJournalAckedWritesSurviveCrashes(t *testing.T) {
	const writers, perWriter, crashes = 8, 40, 20
	_, _, txs := journalFixture(t, writers*perWriter)
	fs := vfs.NewCrashableMem()
	var observed atomic.Uint64 // fsyncs the metric was told of
	j, err := openTxJournalFS("journal", fs, nil, func(time.Duration) { observed.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[crypto.Hash]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for _, tx := range txs[w*perWriter : (w+1)*perWriter] {
				if err := j.write([]*ledger.Tx{tx})(); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[tx.Hash()] = true
				mu.Unlock()
			}
		})
	}
	rng := rand.New(rand.NewPCG(3, 4))
	type crash struct {
		fs    *vfs.MemFS
		acked []crypto.Hash
	}
	var clones []crash
	for range crashes {
		time.Sleep(time.Duration(rng.IntN(600)) * time.Microsecond)
		mu.Lock()
		c := crash{acked: slices.Collect(maps.Keys(acked))}
		c.fs = fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
		mu.Unlock()
		clones = append(clones, c)
	}
	wg.Wait()
	if got := j.sync.fsyncs; got >= writers*perWriter {
		t.Errorf("%d fsyncs for %d writes: none were shared", got, writers*perWriter)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Close ran the last fsync and stopped the syncing goroutine.
	if got, want := observed.Load(), j.sync.fsyncs; got != want {
		t.Errorf("%d fsync durations observed, %d fsyncs done", got, want)
	}
	for i, c := range clones {
		r, err := openTxJournalFS("journal", c.fs, nil, nil)
		if err != nil {
			t.Fatalf("crash %d: reopen: %v", i, err)
		}
		var have []*ledger.Tx
		if _, _, err := r.replay(func(tx *ledger.Tx) error { have = append(have, tx); return nil }); err != nil {
			t.Fatalf("crash %d: replay: %v", i, err)
		}
		held := map[crypto.Hash]bool{}
		for _, tx := range have {
			held[tx.Hash()] = true
		}
		for _, h := range c.acked {
			if !held[h] {
				t.Fatalf("crash %d: acknowledged tx %s lost", i, h.Short())
			}
		}
		r.Close()
	}
}

// TestJournalSyncWakesEveryWaiter: a writer that starts waiting for its
// write's fsync while an fsync that covers it is running must be woken by
// that fsync, since no other write will ask for another. One writer, with
// pauses of random length between a write and its wait, lands in that
// window many times.
func TestJournalSyncWakesEveryWaiter(t *testing.T) {
	const writes = 100
	_, _, txs := journalFixture(t, writes)
	j, err := openTxJournal(t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	for i, tx := range txs {
		durable := j.write([]*ledger.Tx{tx})
		time.Sleep(time.Duration(rng.IntN(600)) * time.Microsecond)
		waited := make(chan error, 1)
		go func() { waited <- durable() }()
		select {
		case err := <-waited:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("write %d still waits for an fsync", i)
		}
	}
}

// journalFileSize is the length of dir's journal file.
func journalFileSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, journalFile))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// replayNonces reopens the journal in dir and returns the nonces it
// replays.
func replayNonces(t *testing.T, dir string) []uint64 { return replayNoncesFS(t, nil, dir) }

// replayNoncesFS is replayNonces on fs (nil: the OS's).
func replayNoncesFS(t *testing.T, fs vfs.FS, dir string) []uint64 {
	t.Helper()
	j, err := openTxJournalFS(dir, fs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var got []uint64
	if _, _, err := j.replay(func(tx *ledger.Tx) error { got = append(got, tx.Nonce); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestTxJournalRewritesWhenMostlyForgotten: once the file is past the
// rotation size and mostly forgotten records, the next fsync rewrites it
// with only the held txs, and writes after the rewrite land in the new
// file.
func TestTxJournalRewritesWhenMostlyForgotten(t *testing.T) {
	dir, j, txs := journalFixture(t, 101)
	j.rotateBytes = 4 << 10
	if err := j.add(txs[:100]); err != nil {
		t.Fatal(err)
	}
	if err := j.remove(txs[:95]); err != nil {
		t.Fatal(err)
	}
	full := journalFileSize(t, dir)
	if err := j.add(txs[100:]); err != nil { // its fsync rewrites
		t.Fatal(err)
	}
	if got := journalFileSize(t, dir); got*5 > full {
		t.Errorf("file of %d bytes after the rewrite, %d before: not rewritten", got, full)
	}
	if err := j.add(txs[100:]); err != nil { // a duplicate, held once
		t.Fatal(err)
	}
	j.Close()
	got := replayNonces(t, dir)
	if want := []uint64{95, 96, 97, 98, 99, 100}; !slices.Equal(got, want) {
		t.Fatalf("replayed nonces %v, want %v", got, want)
	}
}

// TestTxJournalKeepsRecordsBeforeDamage: a file that ends in a torn
// record (a crash mid-append) or garbage reopens with every record before
// it; the reopened journal drops the damage, so later writes are read back
// too.
func TestTxJournalKeepsRecordsBeforeDamage(t *testing.T) {
	for name, tail := range map[string][]byte{
		"torn header": {0, 0, 1},
		"torn record": appendJournalRecord(nil, journalKindTx, make([]byte, 100))[:50],
		"bad length":  {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1},
		"bad crc":     func() []byte { r := appendJournalRecord(nil, journalKindTx, []byte{1, 2, 3}); r[5] ^= 1; return r }(),
	} {
		t.Run(name, func(t *testing.T) {
			dir, j, txs := journalFixture(t, 4)
			if err := j.add(txs[:3]); err != nil {
				t.Fatal(err)
			}
			j.Close()
			f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tail); err != nil {
				t.Fatal(err)
			}
			f.Close()
			j, err = openTxJournal(dir, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := j.add(txs[3:]); err != nil {
				t.Fatal(err)
			}
			j.Close()
			if got, want := replayNonces(t, dir), []uint64{0, 1, 2, 3}; !slices.Equal(got, want) {
				t.Fatalf("replayed nonces %v, want %v", got, want)
			}
		})
	}
}

// TestTxJournalTakesInPebbleJournal: a journal directory left by a node
// that kept the journal in Pebble is read once, its txs moved into the
// file and its store removed.
func TestTxJournalTakesInPebbleJournal(t *testing.T) {
	_, j, txs := journalFixture(t, 3)
	j.Close()
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{Logger: ledger.PebbleLogger(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		h := tx.Hash()
		if err := db.Set(append([]byte{'t'}, h[:]...), tx.Encode(), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := replayNonces(t, dir), []uint64{0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("replayed nonces %v, want %v", got, want)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].Name() != journalFile {
		t.Fatalf("journal directory holds %v, want only %s", names, journalFile)
	}
}

// FuzzJournalRead: any file content reads without panicking, hands apply
// only checksummed records within the size limit, and a file of valid
// records followed by anything reads back at least those records.
func FuzzJournalRead(f *testing.F) {
	valid := appendJournalRecord(nil, journalKindTx, []byte("tx"))
	valid = appendJournalRecord(valid, journalKindForget, make([]byte, crypto.HashBytes))
	f.Add([]byte{}, []byte{})
	f.Add(valid, []byte{0, 0, 0, 9})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0}, []byte{})
	f.Fuzz(func(t *testing.T, prefix, tail []byte) {
		n, _, err := readJournal(bytes.NewReader(prefix), func(kind byte, data []byte) {
			if len(data)+1 > journalRecordMax {
				t.Fatalf("record of %d bytes", len(data)+1)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if n > len(prefix)/(journalRecordHeader+1) {
			t.Fatalf("%d records in %d bytes", n, len(prefix))
		}
		body := append(append([]byte(nil), valid...), tail...)
		if n, _, _ := readJournal(bytes.NewReader(body), func(byte, []byte) {}); n < 2 {
			t.Fatalf("read %d records of a file starting with 2 valid ones", n)
		}
	})
}

// errDiskFull is what flakyFS's writes fail with while it is failing.
var errDiskFull = errors.New("no space left on device (test)")

// flakyFS is an in-memory file system whose file creation and writes fail
// while fail is set, as a full disk's do, and whose fsyncs fail while
// failSync is.
type flakyFS struct {
	vfs.FS
	fail, failSync atomic.Bool
}

func (fs *flakyFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if fs.fail.Load() {
		return nil, errDiskFull
	}
	f, err := fs.FS.Create(name, category)
	if err != nil {
		return nil, err
	}
	return &flakyFile{File: f, fs: fs}, nil
}

type flakyFile struct {
	vfs.File
	fs *flakyFS
}

func (f *flakyFile) Write(p []byte) (int, error) {
	if f.fs.fail.Load() {
		return 0, errDiskFull
	}
	return f.File.Write(p)
}

func (f *flakyFile) SyncData() error {
	if f.fs.failSync.Load() {
		return errDiskFull
	}
	return f.File.SyncData()
}

// TestTxJournalRecoversFromFailedWrites: once a write or an fsync fails
// (a full disk) the file's end is unknown, so the journal answers writes
// with the error until a rewrite from memory succeeds; once the disk
// works again the first write is durable at once (no stale error from an
// fsync that failed before it), and every tx written is replayed, those
// refused included: they stayed in the mempool, and a wallet that sends
// one again is told it is already known, so the journal must keep it.
func TestTxJournalRecoversFromFailedWrites(t *testing.T) {
	_, fixture, txs := journalFixture(t, 6)
	fixture.Close()
	fs := &flakyFS{FS: vfs.NewMem()}
	j, err := openTxJournalFS("journal", fs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.add(txs[:1]); err != nil {
		t.Fatal(err)
	}
	fs.fail.Store(true)
	for _, tx := range txs[1:3] {
		if err := j.add([]*ledger.Tx{tx}); !errors.Is(err, errDiskFull) {
			t.Fatalf("write on a full disk: %v, want %v", err, errDiskFull)
		}
	}
	fs.fail.Store(false)
	if err := j.add(txs[3:4]); err != nil {
		t.Fatalf("first write once the disk works again: %v", err)
	}
	fs.failSync.Store(true)
	if err := j.add(txs[4:5]); !errors.Is(err, errDiskFull) {
		t.Fatalf("write whose fsync fails: %v, want %v", err, errDiskFull)
	}
	fs.failSync.Store(false)
	if err := j.add(txs[5:6]); err != nil {
		t.Fatalf("first write once fsyncs work again: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := replayNoncesFS(t, fs, "journal"), []uint64{0, 1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("replayed nonces %v, want %v", got, want)
	}
}

// TestTxJournalStaysBoundedWithoutCommits: while no block commits, no
// commit forgets a tx and no commit height sweeps, yet wallets still get
// txs in by eviction or fee bumps, each leaving one that is gone from the
// mempool behind in the journal. Here each write leaves the tx two
// before it gone (a sender bumping its fee); with a held limit of 4 the
// journal must never hold more, and a reopened one must replay the txs
// still pending.
func TestTxJournalStaysBoundedWithoutCommits(t *testing.T) {
	const heldMax = 4
	dir, j, txs := journalFixture(t, 40)
	pool := map[crypto.Hash]bool{}
	j.limitHeld(heldMax, func(h crypto.Hash) bool { return pool[h] })
	for i, tx := range txs {
		pool[tx.Hash()] = true
		if i >= 2 {
			delete(pool, txs[i-2].Hash())
		}
		if err := j.add([]*ledger.Tx{tx}); err != nil {
			t.Fatal(err)
		}
		if n := j.size(); n > heldMax {
			t.Fatalf("after %d writes the journal holds %d txs, limit %d", i+1, n, heldMax)
		}
	}
	j.Close()
	got := replayNonces(t, dir)
	if len(got) > heldMax || !slices.Contains(got, 38) || !slices.Contains(got, 39) {
		t.Fatalf("replayed nonces %v, want at most %d including the pending 38 and 39", got, heldMax)
	}
}

// dirSyncFS is a crashable in-memory file system whose directory fsyncs
// fail while failDirSync is set.
type dirSyncFS struct {
	*vfs.MemFS
	failDirSync atomic.Bool
}

func (fs *dirSyncFS) OpenDir(name string) (vfs.File, error) {
	d, err := fs.MemFS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &dirSyncFile{File: d, fs: fs}, nil
}

type dirSyncFile struct {
	vfs.File
	fs *dirSyncFS
}

func (d *dirSyncFile) Sync() error {
	if d.fs.failDirSync.Load() {
		return errDiskFull
	}
	return d.File.Sync()
}

// TestTxJournalRotationAcksOnlyWhatSurvives: a rotation renames the
// rewritten file over the journal, and a crash keeps that rename only if
// the directory's fsync succeeded. When it fails, the old file, whose
// latest records were never fsynced, may be the journal after a crash,
// so the writes that rotation was to cover must not be acknowledged; once
// the directory syncs again they must be, and every acknowledged tx must
// survive a crash that keeps nothing unsynced.
func TestTxJournalRotationAcksOnlyWhatSurvives(t *testing.T) {
	_, fixture, txs := journalFixture(t, 23)
	fixture.Close()
	fs := &dirSyncFS{MemFS: vfs.NewCrashableMem()}
	j, err := openTxJournalFS("journal", fs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.rotateBytes = 2 << 10
	if err := j.add(txs[:20]); err != nil {
		t.Fatal(err)
	}
	if err := j.remove(txs[:18]); err != nil { // mostly forgotten: the next fsync rotates
		t.Fatal(err)
	}
	acked := []*ledger.Tx{txs[18], txs[19]}
	fs.failDirSync.Store(true)
	if err := j.add(txs[20:21]); err == nil {
		acked = append(acked, txs[20])
	}
	fs.failDirSync.Store(false)
	if err := j.add(txs[21:22]); err != nil {
		t.Fatalf("first write once the directory syncs again: %v", err)
	}
	acked = append(acked, txs[21])
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	j.Close()
	got := replayNoncesFS(t, crashed, "journal")
	for _, tx := range acked {
		if !slices.Contains(got, tx.Nonce) {
			t.Fatalf("acknowledged nonce %d lost in a crash (replayed %v)", tx.Nonce, got)
		}
	}
	if !slices.Contains(got, 20) {
		t.Errorf("nonce 20, written and unacknowledged but pending, not replayed (%v)", got)
	}
}
