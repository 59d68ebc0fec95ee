package node

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// Metrics are the node's Prometheus metrics, in a registry of its own so
// several nodes can run in one test process.
type Metrics struct {
	registry *prometheus.Registry

	height            prometheus.Gauge
	view              prometheus.Gauge
	viewChanges       prometheus.Counter
	committedTxs      prometheus.Counter
	commitLatency     prometheus.Histogram
	blockInterval     prometheus.Histogram
	diskWrite         *prometheus.HistogramVec
	mempoolTxs        prometheus.GaugeFunc
	peers             prometheus.GaugeFunc
	consensusSent     *prometheus.CounterVec
	consensusReceived *prometheus.CounterVec
	consensusInvalid  prometheus.Counter
	consensusDropped  prometheus.Counter
	evidence          prometheus.Counter
	txsRejected       *prometheus.CounterVec
	txsRebroadcast    prometheus.Counter

	// OM(m) checkpoint verification (omverify.go).
	omVerified   prometheus.Counter
	omAlarms     prometheus.Counter
	omUnverified *prometheus.CounterVec
	omSent       prometheus.Counter
	omReceived   prometheus.Counter
	omInvalid    prometheus.Counter
	omDropped    prometheus.Counter

	lastCommit time.Time
}

// NewMetrics builds the metrics; mempoolSize and peerCount are read when
// scraped.
func NewMetrics(mempoolSize, peerCount func() float64) *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	f := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "synod", Name: name, Help: help}
	}
	m.height = prometheus.NewGauge(prometheus.GaugeOpts(f("height", "Height of the last committed block.")))
	m.view = prometheus.NewGauge(prometheus.GaugeOpts(f("view", "Current consensus view.")))
	m.viewChanges = prometheus.NewCounter(prometheus.CounterOpts(f("view_changes_total", "View changes started.")))
	m.committedTxs = prometheus.NewCounter(prometheus.CounterOpts(f("committed_txs_total", "Transactions in committed blocks.")))
	m.commitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "synod", Name: "commit_latency_seconds",
		Help: "From a block's proposer timestamp to its commit here.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)})
	m.blockInterval = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "synod", Name: "block_interval_seconds",
		Help: "Time between consecutive commits here.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)})
	m.diskWrite = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "synod", Name: "disk_write_seconds",
		Help:    "Writes to disk, fsync included where there is one, by log: ledger (a consensus step's write-ahead records, fsynced before its messages go out; the blocks it commits, written after without an fsync of their own; the idle loop's sync; synced batches), tx_journal (the grouped fsync wallets' answers wait for).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"log"})
	m.mempoolTxs = prometheus.NewGaugeFunc(prometheus.GaugeOpts(f("mempool_txs", "Transactions in the mempool.")), mempoolSize)
	m.peers = prometheus.NewGaugeFunc(prometheus.GaugeOpts(f("peers", "Connected libp2p peers.")), peerCount)
	m.consensusSent = prometheus.NewCounterVec(prometheus.CounterOpts(f("consensus_messages_sent_total", "Consensus messages sent, by kind.")), []string{"kind"})
	m.consensusReceived = prometheus.NewCounterVec(prometheus.CounterOpts(f("consensus_messages_received_total", "Consensus messages received, by kind.")), []string{"kind"})
	m.consensusInvalid = prometheus.NewCounter(prometheus.CounterOpts(f("consensus_messages_invalid_total", "Consensus messages refused as malformed or badly signed.")))
	m.consensusDropped = prometheus.NewCounter(prometheus.CounterOpts(f("consensus_messages_dropped_total", "Consensus messages dropped on their way to the consensus loop: it had stopped, or (in-process networks) its inbox was full.")))
	m.evidence = prometheus.NewCounter(prometheus.CounterOpts(f("evidence_total", "Evidence of validator misbehaviour seen.")))
	m.txsRejected = prometheus.NewCounterVec(prometheus.CounterOpts(f("txs_rejected_total", "Transactions refused by the mempool, by source.")), []string{"source"})
	m.txsRebroadcast = prometheus.NewCounter(prometheus.CounterOpts(f("txs_rebroadcast_total", "Pending transactions gossiped again because no block took them within the rebroadcast interval.")))
	m.omVerified = prometheus.NewCounter(prometheus.CounterOpts(f("om_checkpoints_verified_total", "Stable checkpoints whose OM(m) vector matched this node's state everywhere.")))
	m.omAlarms = prometheus.NewCounter(prometheus.CounterOpts(f("om_alarms_total", "Stable checkpoints where OM(m) showed a validator claiming another state.")))
	m.omUnverified = prometheus.NewCounterVec(prometheus.CounterOpts(f("om_checkpoints_unverified_total", "Stable checkpoints OM(m) could not verify, by reason (incomplete, dropped).")), []string{"reason"})
	m.omSent = prometheus.NewCounter(prometheus.CounterOpts(f("om_messages_sent_total", "OM(m) messages sent.")))
	m.omReceived = prometheus.NewCounter(prometheus.CounterOpts(f("om_messages_received_total", "OM(m) messages accepted by the state machine.")))
	m.omInvalid = prometheus.NewCounter(prometheus.CounterOpts(f("om_messages_invalid_total", "OM(m) envelopes refused as malformed or badly signed.")))
	m.omDropped = prometheus.NewCounter(prometheus.CounterOpts(f("om_messages_dropped_total", "OM(m) messages dropped by a full inbox or buffer.")))
	m.registry.MustRegister(m.omVerified, m.omAlarms, m.omUnverified, m.omSent, m.omReceived, m.omInvalid, m.omDropped)
	m.registry.MustRegister(m.height, m.view, m.viewChanges, m.committedTxs, m.commitLatency, m.blockInterval, m.diskWrite,
		m.mempoolTxs, m.peers, m.consensusSent, m.consensusReceived, m.consensusInvalid, m.consensusDropped,
		m.evidence, m.txsRejected, m.txsRebroadcast,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// observeCommit records one applied block; called from the consensus loop
// only.
func (m *Metrics) observeCommit(b *ledger.Block, now time.Time) {
	m.height.Set(float64(b.Height()))
	m.committedTxs.Add(float64(len(b.Txs)))
	if lat := now.Sub(time.UnixMilli(b.Header.Timestamp)); lat >= 0 {
		m.commitLatency.Observe(lat.Seconds())
	}
	if !m.lastCommit.IsZero() {
		m.blockInterval.Observe(now.Sub(m.lastCommit).Seconds())
	}
	m.lastCommit = now
}

// Durable logs, as labelled in synod_disk_write_seconds.
const (
	diskLogStore   = "ledger"
	diskLogJournal = "tx_journal"
)

// observeDiskWrite records how long a durable write to log took; safe
// from any goroutine.
func (m *Metrics) observeDiskWrite(log string, took time.Duration) {
	m.diskWrite.WithLabelValues(log).Observe(took.Seconds())
}

// registerP2P exports the network host's counters, read when scraped:
// gossip batch sizes (txs over batches), consensus stream health, sync.
func (m *Metrics) registerP2P(stats func() p2p.Stats) {
	counter := func(name, help string, read func(p2p.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "synod", Subsystem: "p2p", Name: name, Help: help},
			func() float64 { return float64(read(stats())) })
	}
	m.registry.MustRegister(
		counter("tx_batches_published_total", "Gossip messages of txs this node published.", func(s p2p.Stats) uint64 { return s.TxBatchesPublished }),
		counter("txs_published_total", "Txs in the gossip messages this node published.", func(s p2p.Stats) uint64 { return s.TxsPublished }),
		counter("tx_batches_accepted_total", "Peers' gossip messages of txs accepted.", func(s p2p.Stats) uint64 { return s.TxBatchesAccepted }),
		counter("tx_batches_rejected_total", "Peers' gossip messages of txs rejected as invalid.", func(s p2p.Stats) uint64 { return s.TxBatchesRejected }),
		counter("tx_batches_ignored_total", "Peers' gossip messages of txs with nothing new.", func(s p2p.Stats) uint64 { return s.TxBatchesIgnored }),
		counter("txs_delivered_total", "Peers' txs accepted from gossip.", func(s p2p.Stats) uint64 { return s.TxsDelivered }),
		counter("tx_duplicates_total", "Copies of tx gossip messages already seen, dropped unread.", func(s p2p.Stats) uint64 { return s.TxDuplicates }),
		counter("tx_rpcs_dropped_total", "Tx gossip RPCs dropped on a peer's full send queue.", func(s p2p.Stats) uint64 { return s.TxRPCsDropped }),
		counter("tx_batches_throttled_total", "Peers' gossip messages of txs dropped unread on a full validation queue.", func(s p2p.Stats) uint64 { return s.TxBatchesThrottled }),
		counter("consensus_sent_total", "Consensus messages sent.", func(s p2p.Stats) uint64 { return s.ConsensusSent }),
		counter("consensus_received_total", "Consensus messages received.", func(s p2p.Stats) uint64 { return s.ConsensusReceived }),
		counter("consensus_outbound_dropped_total", "Consensus messages dropped on a full send queue.", func(s p2p.Stats) uint64 { return s.ConsensusOutboundDropped }),
		counter("consensus_inbound_dropped_total", "Consensus messages dropped, oldest first, from a peer's full receive queue (the consensus loop did not keep up, or the peer floods).", func(s p2p.Stats) uint64 { return s.ConsensusInboundDropped }),
		counter("consensus_stream_errors_total", "Consensus stream failures.", func(s p2p.Stats) uint64 { return s.ConsensusStreamErrors }),
		counter("consensus_streams_refused_total", "Inbound consensus streams refused (not from a validator).", func(s p2p.Stats) uint64 { return s.ConsensusStreamsRefused }),
		counter("sync_requests_served_total", "Block sync requests served.", func(s p2p.Stats) uint64 { return s.SyncRequestsServed }),
		counter("sync_requests_refused_total", "Block sync requests refused (busy, or not from a validator).", func(s p2p.Stats) uint64 { return s.SyncRequestsRefused }),
		counter("sync_blocks_served_total", "Blocks served to syncing peers.", func(s p2p.Stats) uint64 { return s.SyncBlocksServed }),
		counter("penalties_total", "Penalties given to misbehaving peers.", func(s p2p.Stats) uint64 { return s.Penalties }),
		counter("peers_blocked_total", "Peers blocked for their penalties.", func(s p2p.Stats) uint64 { return s.PeersBlocked }),
	)
}

// registerStore exports the ledger store's storage-engine counters
// (ledger.StoreStats), read once per scrape.
func (m *Metrics) registerStore(stats func() (ledger.StoreStats, bool)) {
	m.registry.MustRegister(storeCollector{stats: stats})
}

// storeMetric is one exported field of ledger.StoreStats.
type storeMetric struct {
	desc      *prometheus.Desc
	valueType prometheus.ValueType
	read      func(*ledger.StoreStats) float64
}

var storeMetrics = func() []storeMetric {
	metric := func(name, help string, t prometheus.ValueType, read func(*ledger.StoreStats) float64) storeMetric {
		return storeMetric{desc: prometheus.NewDesc(prometheus.BuildFQName("synod", "store", name), help, nil, nil), valueType: t, read: read}
	}
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	return []storeMetric{
		metric("wal_bytes_total", "Bytes appended to the store's write-ahead log.", counter, func(s *ledger.StoreStats) float64 { return float64(s.WALBytes) }),
		metric("flushes_total", "Memtables flushed to level-0 tables.", counter, func(s *ledger.StoreStats) float64 { return float64(s.Flushes) }),
		metric("flush_bytes_total", "Table bytes written by flushes.", counter, func(s *ledger.StoreStats) float64 { return float64(s.FlushBytes) }),
		metric("compactions_total", "Compactions between levels.", counter, func(s *ledger.StoreStats) float64 { return float64(s.Compactions) }),
		metric("compaction_read_bytes_total", "Table bytes read by compactions.", counter, func(s *ledger.StoreStats) float64 { return float64(s.CompactionReadBytes) }),
		metric("compaction_write_bytes_total", "Table bytes written by compactions.", counter, func(s *ledger.StoreStats) float64 { return float64(s.CompactionWriteBytes) }),
		metric("compaction_debt_bytes", "Estimated bytes compactions must still rewrite.", gauge, func(s *ledger.StoreStats) float64 { return float64(s.CompactionDebtBytes) }),
		metric("l0_sublevels", fmt.Sprintf("Level-0 sublevels (writes stall at %d).", ledger.StoreL0StallSublevels), gauge, func(s *ledger.StoreStats) float64 { return float64(s.L0Sublevels) }),
		metric("l0_files", "Level-0 tables.", gauge, func(s *ledger.StoreStats) float64 { return float64(s.L0Files) }),
		metric("disk_bytes", "Disk space the store takes.", gauge, func(s *ledger.StoreStats) float64 { return float64(s.DiskBytes) }),
		metric("memtable_bytes", "Memory held by the store's memtables.", gauge, func(s *ledger.StoreStats) float64 { return float64(s.MemTableBytes) }),
		metric("write_stalls_total", "Times every store write waited for flushes or compactions.", counter, func(s *ledger.StoreStats) float64 { return float64(s.WriteStalls) }),
		metric("write_stall_seconds_total", "Time store writes spent stalled.", counter, func(s *ledger.StoreStats) float64 { return s.WriteStallTime.Seconds() }),
		metric("block_cache_hits_total", "Table block lookups served from the block cache.", counter, func(s *ledger.StoreStats) float64 { return float64(s.BlockCacheHits) }),
		metric("block_cache_misses_total", "Table block lookups that read the disk.", counter, func(s *ledger.StoreStats) float64 { return float64(s.BlockCacheMisses) }),
	}
}()

// storeCollector reads the store's counters once per scrape.
// stats reports false once the store is closed: nothing is exported then.
type storeCollector struct {
	stats func() (ledger.StoreStats, bool)
}

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range storeMetrics {
		ch <- m.desc
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.stats()
	if !ok {
		return
	}
	for _, m := range storeMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.valueType, m.read(&s))
	}
}
