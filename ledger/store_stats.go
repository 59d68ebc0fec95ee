package ledger

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// StoreStats are the storage engine's counters, for monitoring: what the
// store writes for the chain and what Pebble's background work (flushes
// of memtables, compactions between levels) writes again. The chain's
// tables are keyed by hashes and addresses, so compactions rewrite more
// as the chain grows; these counters show that debt before it shows as
// slower commits. Counters count from when the store was opened.
type StoreStats struct {
	// WALBytes is what was appended to the write-ahead log: every block,
	// certificate, index entry and consensus record, once.
	WALBytes uint64
	// Flushes and FlushBytes: memtables written out as level-0 tables.
	Flushes    int64
	FlushBytes uint64
	// Compactions, CompactionReadBytes and CompactionWriteBytes: tables
	// merged into lower levels. The count includes moves of whole tables
	// to a lower level; the bytes leave them out, as they rewrite nothing.
	Compactions          int64
	CompactionReadBytes  uint64
	CompactionWriteBytes uint64
	// CompactionDebtBytes estimates what compactions must still rewrite to
	// bring every level back within its size.
	CompactionDebtBytes uint64
	// L0Sublevels and L0Files: level 0's depth (every sublevel is read by a
	// lookup that misses the memtables) and its table count; Pebble stalls
	// writes at StoreL0StallSublevels sublevels.
	L0Sublevels int
	L0Files     int64
	// DiskBytes is the space the store takes on disk as Pebble counts it:
	// tables, including those waiting to be deleted, and write-ahead logs,
	// of which the one being written counts only once it is rotated (at
	// each memtable switch), so a store that has not flushed yet reads
	// almost empty.
	DiskBytes uint64
	// MemTableBytes is held by the memtables, including those waiting to
	// be flushed.
	MemTableBytes uint64
	// WriteStalls and WriteStallTime: how often, and for how long in all,
	// every write to the store waited for flushes or compactions. A stall
	// in progress counts from its start.
	WriteStalls    uint64
	WriteStallTime time.Duration
	// BlockCacheHits and BlockCacheMisses: lookups of table blocks.
	BlockCacheHits   int64
	BlockCacheMisses int64
}

// Stats reads the storage engine's counters. It takes Pebble's locks
// briefly; call it when scraped, not per block.
func (s *Store) Stats() StoreStats {
	m := s.db.Metrics()
	st := StoreStats{
		WALBytes:            m.WAL.BytesWritten,
		Flushes:             m.Flush.Count,
		Compactions:         m.Compact.Count,
		CompactionDebtBytes: m.Compact.EstimatedDebt,
		L0Sublevels:         int(m.Levels[0].Sublevels),
		L0Files:             m.Levels[0].TablesCount,
		DiskBytes:           m.DiskSpaceUsage(),
		MemTableBytes:       m.MemTable.Size,
		BlockCacheHits:      m.BlockCache.Hits,
		BlockCacheMisses:    m.BlockCache.Misses,
	}
	for i := range m.Levels {
		l := &m.Levels[i]
		st.FlushBytes += l.TableBytesFlushed
		st.CompactionReadBytes += l.TableBytesRead
		st.CompactionWriteBytes += l.TableBytesCompacted
	}
	st.WriteStalls, st.WriteStallTime = s.stalls.read(time.Now())
	return st
}

// stallCounter counts Pebble's write stalls and their total length.
type stallCounter struct {
	mu    sync.Mutex
	count uint64
	total time.Duration
	began time.Time // zero when no stall is in progress
}

func (c *stallCounter) begin(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	c.began = now
}

// end closes the stall in progress and returns its length.
func (c *stallCounter) end(now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.began.IsZero() {
		return 0
	}
	took := now.Sub(c.began)
	c.total += took
	c.began = time.Time{}
	return took
}

func (c *stallCounter) read(now time.Time) (uint64, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := c.total
	if !c.began.IsZero() {
		total += now.Sub(c.began)
	}
	return c.count, total
}

// storeEventListener counts Pebble's write stalls into stalls and logs
// them as warnings: while one lasts, every write to the store waits (too
// many memtables or level-0 files are waiting to be flushed or
// compacted), and with it the node's consensus loop. Flushes and
// compactions are logged at debug level: on a machine short of CPU a
// compaction of a few seconds slows commits even without a stall, and
// several nodes on one machine tend to compact at the same moment, having
// written the same blocks. A nil log logs nothing but still counts.
func storeEventListener(log *slog.Logger, stalls *stallCounter) *pebble.EventListener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &pebble.EventListener{
		FlushEnd: func(info pebble.FlushInfo) {
			log.Debug("store: flushed", "took", info.TotalDuration.Round(time.Millisecond),
				"bytes", info.InputBytes, "tables", len(info.Output), "err", info.Err, "component", "pebble")
		},
		CompactionEnd: func(info pebble.CompactionInfo) {
			if !log.Enabled(context.Background(), slog.LevelDebug) {
				return
			}
			var from []int
			var in uint64
			for _, l := range info.Input {
				from = append(from, l.Level)
				for _, t := range l.Tables {
					in += t.Size
				}
			}
			var out uint64
			for _, t := range info.Output.Tables {
				out += t.Size
			}
			log.Debug("store: compacted", "took", info.TotalDuration.Round(time.Millisecond), "reason", info.Reason,
				"from", from, "to", info.Output.Level, "in_bytes", in, "out_bytes", out,
				"tables", len(info.Output.Tables), "err", info.Err, "component", "pebble")
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			stalls.begin(time.Now())
			log.Warn("store: writes stalled", "reason", info.Reason, "component", "pebble")
		},
		WriteStallEnd: func() {
			took := stalls.end(time.Now())
			log.Warn("store: writes resumed", "stalled", took.Round(time.Millisecond), "component", "pebble")
		},
	}
}
