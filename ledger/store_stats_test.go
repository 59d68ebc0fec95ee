package ledger

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestStoreStatsCountWork: a fresh store has written nothing to its
// tables; after blocks, a flush and a manual compaction, the counters show
// each kind of work, grow with more blocks, and the write-ahead log holds
// at least the blocks' own bytes.
func TestStoreStatsCountWork(t *testing.T) {
	c := newSTChain(t, 16, 43)
	s, err := OpenStore("db", StoreOptions{ChainID: c.genesis.ChainID, FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.Flushes != 0 || st.FlushBytes != 0 || st.Compactions != 0 || st.WriteStalls != 0 {
		t.Fatalf("a fresh store reports work: %+v", st)
	}
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	writes := stWrites(t, c, 12, 20)
	var blockBytes uint64
	for _, w := range writes {
		if err := s.ApplyBlock(w.Block, w.Certificate, w.Diff); err != nil {
			t.Fatal(err)
		}
		blockBytes += uint64(len(w.Block.Encode()))
	}
	before := s.Stats()
	if before.WALBytes < blockBytes {
		t.Fatalf("WAL bytes %d below the blocks' %d", before.WALBytes, blockBytes)
	}
	if before.MemTableBytes == 0 {
		t.Fatal("no memtable bytes with unflushed blocks")
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	flushed := s.Stats()
	if flushed.Flushes <= before.Flushes || flushed.FlushBytes == 0 || flushed.L0Files == 0 || flushed.L0Sublevels == 0 {
		t.Fatalf("after a flush: %+v (before %+v)", flushed, before)
	}
	if flushed.DiskBytes < flushed.FlushBytes {
		t.Fatalf("disk bytes %d below the flushed %d", flushed.DiskBytes, flushed.FlushBytes)
	}
	// A second flush overlapping the first makes the compaction a merge,
	// not a move of whole tables.
	more := stWrites(t, c, 4, 20)
	for _, w := range more {
		if err := s.ApplyBlock(w.Block, w.Certificate, w.Diff); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Compact(t.Context(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	compacted := s.Stats()
	if compacted.Compactions == 0 || compacted.CompactionReadBytes == 0 || compacted.CompactionWriteBytes == 0 {
		t.Fatalf("after a compaction: %+v", compacted)
	}
	if compacted.L0Files != 0 || compacted.L0Sublevels != 0 {
		t.Fatalf("level 0 not emptied by a full compaction: %+v", compacted)
	}
	if compacted.WALBytes <= flushed.WALBytes {
		t.Fatalf("WAL bytes did not grow with more blocks: %d then %d", flushed.WALBytes, compacted.WALBytes)
	}
}

// TestStallCounter: stalls are counted when they begin; their time adds
// up when they end, and a stall in progress counts up to now.
func TestStallCounter(t *testing.T) {
	var c stallCounter
	t0 := time.Unix(1000, 0)
	if got := c.end(t0); got != 0 {
		t.Fatalf("an end without a begin lasted %v", got)
	}
	c.begin(t0)
	if n, d := c.read(t0.Add(time.Second)); n != 1 || d != time.Second {
		t.Fatalf("in progress: %d stalls, %v; want 1, 1s", n, d)
	}
	if got := c.end(t0.Add(2 * time.Second)); got != 2*time.Second {
		t.Fatalf("stall lasted %v, want 2s", got)
	}
	c.begin(t0.Add(10 * time.Second))
	c.end(t0.Add(10*time.Second + 500*time.Millisecond))
	if n, d := c.read(t0.Add(time.Minute)); n != 2 || d != 2500*time.Millisecond {
		t.Fatalf("%d stalls, %v; want 2, 2.5s", n, d)
	}
}
