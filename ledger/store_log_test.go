package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
)

func logRecs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "record-%d", from+i)
	}
	return out
}

func wantLog(t *testing.T, s *Store, want [][]byte) {
	t.Helper()
	got, err := s.LogRecords()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("log has %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("log record %d is %q, want %q", i, got[i], want[i])
		}
	}
}

// TestStoreLog appends records alone and with blocks, replaces the log and
// reopens the store: records come back in order, appends after a replace
// or a reopen go after the last record, and blocks committed with records
// are stored like ApplyBlocks stores them.
func TestStoreLog(t *testing.T) {
	c := newSTChain(t, 8, 31)
	fs := vfs.NewMem()
	s := openSTStore(t, fs, c.genesis.ChainID)
	// Records may be written before genesis (the log is not the chain);
	// blocks may not.
	if err := s.Commit(logRecs(0, 2), nil, Synced); err != nil {
		t.Fatal(err)
	}
	writes := stWrites(t, c, 3, 5)
	if err := s.Commit(nil, writes[:1], Synced); !errors.Is(err, ErrStoreNotInit) {
		t.Fatalf("blocks before genesis: %v, want ErrStoreNotInit", err)
	}
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(logRecs(2, 3), writes[:2], Synced); err != nil {
		t.Fatal(err)
	}
	if got := s.Head().Height; got != 2 {
		t.Fatalf("head %d after committing two blocks with records, want 2", got)
	}
	wantLog(t, s, logRecs(0, 5))
	// A refused batch writes neither part.
	if err := s.Commit(logRecs(5, 1), writes[2:], Synced); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(logRecs(99, 1), writes[2:], Synced); !errors.Is(err, ErrStoreNotNext) {
		t.Fatalf("re-applying block 3: %v, want ErrStoreNotNext", err)
	}
	wantLog(t, s, logRecs(0, 6))

	if err := s.ReplaceLog(logRecs(10, 2)); err != nil {
		t.Fatal(err)
	}
	wantLog(t, s, logRecs(10, 2))
	if err := s.Commit(logRecs(12, 1), nil, Synced); err != nil {
		t.Fatal(err)
	}
	s.Close()

	r := openSTStore(t, fs, c.genesis.ChainID)
	defer r.Close()
	wantLog(t, r, logRecs(10, 3))
	if err := r.Commit(logRecs(13, 2), nil, Synced); err != nil {
		t.Fatal(err)
	}
	wantLog(t, r, logRecs(10, 5))
	if got := r.Head().Height; got != 3 {
		t.Fatalf("head %d after reopen, want 3", got)
	}
	for _, w := range writes {
		b, err := r.BlockByHeight(w.Block.Height())
		if err != nil || b.Hash() != w.Block.Hash() {
			t.Fatalf("block %d after reopen: %v", w.Block.Height(), err)
		}
	}
	if err := r.ReplaceLog(nil); err != nil {
		t.Fatal(err)
	}
	wantLog(t, r, nil)
}

// TestStoreLogRefusesOversizedRecords: a record over LogRecordBytesMax is
// refused before anything is written.
func TestStoreLogRefusesOversizedRecords(t *testing.T) {
	c := newSTChain(t, 2, 32)
	s := openSTStore(t, vfs.NewMem(), c.genesis.ChainID)
	defer s.Close()
	big := make([]byte, LogRecordBytesMax+1)
	if err := s.Commit([][]byte{[]byte("ok"), big}, nil, Synced); err == nil {
		t.Fatal("oversized record appended")
	}
	if err := s.ReplaceLog([][]byte{big}); err == nil {
		t.Fatal("oversized record in a replacement")
	}
	wantLog(t, s, nil)
}

// TestStoreLogCrashAtomicity commits blocks with log records while the
// test takes crash clones of the file system (keeping a random share of
// unsynced data): in every recovered store the log holds exactly the
// records committed with the blocks up to the recovered head, so a crash
// never keeps a batch's records without its blocks or its blocks without
// its records, and no batch acknowledged before the clone is lost.
func TestStoreLogCrashAtomicity(t *testing.T) {
	const blocks = 40
	c := newSTChain(t, 8, 33)
	fs := vfs.NewCrashableMem()
	s := openSTStore(t, fs, c.genesis.ChainID)
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	writes := stWrites(t, c, blocks, 4)
	var acked atomic.Uint64
	done := make(chan error, 1)
	go func() {
		for i, w := range writes {
			// Block i+1 is committed with records 2i and 2i+1.
			if err := s.Commit(logRecs(2*i, 2), []BlockWrite{w}, Synced); err != nil {
				done <- err
				return
			}
			acked.Store(uint64(i + 1))
		}
		done <- nil
	}()
	rng := rand.New(rand.NewPCG(5, 5))
	var clones []*vfs.MemFS
	var ackedAtClone []uint64
	for range 30 {
		before := acked.Load()
		clones = append(clones, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng}))
		ackedAtClone = append(ackedAtClone, before)
		for j := rng.IntN(50); j > 0; j-- {
			runtime.Gosched()
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.Close()
	for i, clone := range clones {
		r, err := OpenStore("db", StoreOptions{ChainID: c.genesis.ChainID, FS: clone})
		if err != nil {
			t.Fatalf("crash %d: reopen: %v", i, err)
		}
		head := r.Head().Height
		if head < ackedAtClone[i] {
			t.Fatalf("crash %d: head %d, but %d was acknowledged before the crash", i, head, ackedAtClone[i])
		}
		wantLog(t, r, logRecs(0, 2*int(head)))
		r.Close()
	}
}

// TestStoreDeferredCommits: a Deferred commit survives a crash that keeps
// no unsynced data only once a later Synced commit or Sync has run: the
// store's write-ahead log is synced in order, so that fsync covers it.
func TestStoreDeferredCommits(t *testing.T) {
	c := newSTChain(t, 8, 34)
	fs := vfs.NewCrashableMem()
	s := openSTStore(t, fs, c.genesis.ChainID)
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	writes := stWrites(t, c, 3, 4)
	headAfterCrash := func() uint64 {
		t.Helper()
		clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
		r, err := OpenStore("db", StoreOptions{ChainID: c.genesis.ChainID, FS: clone})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return r.Head().Height
	}
	if err := s.Commit(nil, writes[:1], Deferred); err != nil {
		t.Fatal(err)
	}
	if s.Head().Height != 1 {
		t.Fatalf("head %d after a deferred commit, want 1: readers see it at once", s.Head().Height)
	}
	if h := headAfterCrash(); h != 0 {
		t.Fatalf("a deferred block survived a crash that kept no unsynced data: head %d", h)
	}
	if err := s.Commit(logRecs(0, 1), nil, Synced); err != nil {
		t.Fatal(err)
	}
	if h := headAfterCrash(); h != 1 {
		t.Fatalf("head %d after a later synced commit, want 1", h)
	}
	if err := s.Commit(nil, writes[1:], Deferred); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if h := headAfterCrash(); h != 3 {
		t.Fatalf("head %d after Sync, want 3", h)
	}
	s.Close()
}

// TestStoreEventListenerLogs: a Pebble write stall is logged as a warning
// when it begins, with its reason, and when it ends, with how long it
// lasted; flushes and compactions are logged with their durations (and a
// compaction with its levels and bytes) at debug level only.
func TestStoreEventListenerLogs(t *testing.T) {
	var buf bytes.Buffer
	l := storeEventListener(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &stallCounter{})
	l.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "L0 file count limit exceeded"})
	l.WriteStallEnd()
	l.FlushEnd(pebble.FlushInfo{TotalDuration: 250 * time.Millisecond, InputBytes: 1 << 20})
	l.CompactionEnd(pebble.CompactionInfo{TotalDuration: 3 * time.Second, Reason: "default",
		Input:  []pebble.LevelInfo{{Level: 0, Tables: []pebble.TableInfo{{Size: 100}, {Size: 20}}}, {Level: 5, Tables: []pebble.TableInfo{{Size: 3}}}},
		Output: pebble.LevelInfo{Level: 5, Tables: []pebble.TableInfo{{Size: 110}}}})
	out := buf.String()
	for _, want := range []string{"level=WARN", "writes stalled", "L0 file count limit exceeded", "writes resumed", "stalled=",
		"level=DEBUG msg=\"store: flushed\" took=250ms bytes=1048576", "level=DEBUG msg=\"store: compacted\" took=3s reason=default from=\"[0 5]\" to=5 in_bytes=123 out_bytes=110 tables=1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log %q lacks %q", out, want)
		}
	}
	buf.Reset()
	l = storeEventListener(slog.New(slog.NewTextHandler(&buf, nil)), &stallCounter{})
	l.CompactionEnd(pebble.CompactionInfo{TotalDuration: 3 * time.Second})
	if buf.Len() != 0 {
		t.Fatalf("a compaction logged at the default level: %q", buf.String())
	}
	// Without a logger the listener logs nothing but still counts stalls.
	stalls := &stallCounter{}
	l = storeEventListener(nil, stalls)
	l.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "memtable count limit reached"})
	l.FlushEnd(pebble.FlushInfo{})
	l.CompactionEnd(pebble.CompactionInfo{})
	l.WriteStallEnd()
	if n, _ := stalls.read(time.Now()); n != 1 {
		t.Fatalf("%d stalls counted without a logger, want 1", n)
	}
}

// TestStoreAccountIsLastHistoryEntry: an account's current value is the
// last entry of its history. After many blocks and a reopen (which loads
// the existence filter from the history, one seek per account) every
// account reads as the expected state, as does AccountAt at the head, and
// a stale record in the account table that earlier versions wrote is
// ignored.
func TestStoreAccountIsLastHistoryEntry(t *testing.T) {
	c := newSTChain(t, 12, 35)
	fs := vfs.NewMem()
	s := openSTStore(t, fs, c.genesis.ChainID)
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := s.ApplyBlocks(stWrites(t, c, 1, 6)); err != nil {
			t.Fatal(err)
		}
	}
	want := c.mem.Accounts()
	// What an earlier version kept as the latest value, now stale.
	var any crypto.Address
	for addr := range want {
		any = addr
		break
	}
	if err := s.db.Set(append([]byte{tableAccount}, any[:]...), EncodeAccount(Account{Balance: 1}), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := openSTStore(t, fs, c.genesis.ChainID)
	defer r.Close()
	head := r.Head().Height
	for addr, acct := range want {
		got, err := r.GetAccount(addr)
		if err != nil || got != acct {
			t.Fatalf("account %s after reopen: %+v (%v), want %+v", addr, got, err, acct)
		}
		at, err := r.AccountAt(addr, head)
		if err != nil || at != acct {
			t.Fatalf("account %s at the head: %+v (%v), want %+v", addr, at, err, acct)
		}
		if !r.exists.mayHold(addr) {
			t.Fatalf("account %s missing from the existence filter after reopen", addr)
		}
	}
}
