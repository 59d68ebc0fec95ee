package node

import (
	"io"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// scrape fetches /metrics from m's handler and returns each unlabelled
// sample's value by name.
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[name] = v
	}
	return samples
}

// TestMetricsExportStoreStats: /metrics carries every store counter, read
// from the store when scraped, so they move as the store writes.
func TestMetricsExportStoreStats(t *testing.T) {
	var stats ledger.StoreStats
	m := NewMetrics(func() float64 { return 0 }, func() float64 { return 0 })
	m.registerStore(func() (ledger.StoreStats, bool) { return stats, true })
	stats = ledger.StoreStats{WALBytes: 1, Flushes: 2, FlushBytes: 3, Compactions: 4, CompactionReadBytes: 5,
		CompactionWriteBytes: 6, CompactionDebtBytes: 7, L0Sublevels: 8, L0Files: 9, DiskBytes: 10, MemTableBytes: 11,
		WriteStalls: 12, WriteStallTime: 13_500_000_000, BlockCacheHits: 14, BlockCacheMisses: 15}
	want := map[string]float64{
		"synod_store_wal_bytes_total": 1, "synod_store_flushes_total": 2, "synod_store_flush_bytes_total": 3,
		"synod_store_compactions_total": 4, "synod_store_compaction_read_bytes_total": 5,
		"synod_store_compaction_write_bytes_total": 6, "synod_store_compaction_debt_bytes": 7,
		"synod_store_l0_sublevels": 8, "synod_store_l0_files": 9, "synod_store_disk_bytes": 10,
		"synod_store_memtable_bytes": 11, "synod_store_write_stalls_total": 12,
		"synod_store_write_stall_seconds_total": 13.5, "synod_store_block_cache_hits_total": 14,
		"synod_store_block_cache_misses_total": 15,
	}
	got := scrape(t, m)
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	if len(storeMetrics) != len(want) {
		t.Errorf("%d store metrics exported, %d checked", len(storeMetrics), len(want))
	}
	stats.WALBytes = 4096
	if v := scrape(t, m)["synod_store_wal_bytes_total"]; v != 4096 {
		t.Errorf("after the store wrote more: %v, want 4096", v)
	}
}

// TestMetricsExportEveryP2PCounter: every counter of the network host's
// p2p.Stats is on /metrics, so what the host counts (inbound consensus
// messages dropped for a flooding peer, peers blocked, sync requests
// refused) reaches an operator. Method: give each field a distinct value
// and find each value among the synod_p2p_ samples; a field left out of
// the export leaves its value missing.
func TestMetricsExportEveryP2PCounter(t *testing.T) {
	var stats p2p.Stats
	v := reflect.ValueOf(&stats).Elem()
	for i := range v.NumField() {
		v.Field(i).SetUint(uint64(1000 + i))
	}
	m := NewMetrics(func() float64 { return 0 }, func() float64 { return 0 })
	m.registerP2P(func() p2p.Stats { return stats })
	exported := map[float64]string{}
	for name, value := range scrape(t, m) {
		if strings.HasPrefix(name, "synod_p2p_") {
			exported[value] = name
		}
	}
	for i := range v.NumField() {
		if _, ok := exported[float64(1000+i)]; !ok {
			t.Errorf("p2p.Stats.%s is not exported", v.Type().Field(i).Name)
		}
	}
	if len(exported) != v.NumField() {
		t.Errorf("%d synod_p2p_ metrics for %d p2p.Stats fields", len(exported), v.NumField())
	}
}

// TestNodeExportsItsStoreStats: a running node's /metrics carries its own
// store's counters: the blocks it committed went through the WAL.
func TestNodeExportsItsStoreStats(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node; skipped in -short")
	}
	ln := newLocalNet(t, 1, 1)
	ln.start(0)
	ln.waitFor("height 2", 30*time.Second, func() bool { return ln.heights(0)[0] >= 2 })
	got := scrape(t, ln.node(0).metrics)
	if got["synod_height"] < 2 {
		t.Fatalf("synod_height %v, want at least 2", got["synod_height"])
	}
	for _, name := range []string{"synod_store_wal_bytes_total", "synod_store_disk_bytes", "synod_store_memtable_bytes"} {
		if got[name] <= 0 {
			t.Errorf("%s = %v after committed blocks", name, got[name])
		}
	}
}
