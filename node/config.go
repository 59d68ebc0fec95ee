package node

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/mempool"
	"github.com/synod-chain/synod/p2p"
)

// Files and folders of a node home.
const (
	ConfigFile         = "config.toml"
	GenesisFile        = "genesis.json"
	ValidatorKeyFile   = "keys/validator.json"
	NodeKeyFile        = "keys/node.json"
	PasswordFile       = "keys/password.txt"
	DataDir            = "data"
	configFileBytesMax = 1 << 20
)

// Config is a node's own settings, from config.toml in its home; flags
// override single fields. Settings every validator must share live in the
// genesis document instead.
type Config struct {
	Moniker   string          `toml:"moniker"`
	OMVerify  bool            `toml:"om_verify"`
	P2P       P2PConfig       `toml:"p2p"`
	RPC       RPCConfig       `toml:"rpc"`
	Metrics   MetricsConfig   `toml:"metrics"`
	Admin     AdminConfig     `toml:"admin"`
	Consensus ConsensusConfig `toml:"consensus"`
	Mempool   MempoolConfig   `toml:"mempool"`
	Sync      SyncConfig      `toml:"sync"`
	Store     StoreConfig     `toml:"store"`
	Log       LogConfig       `toml:"log"`
	// Testing holds test hooks; generated configs never contain it.
	Testing TestingConfig `toml:"testing"`
}

// TestingConfig: hooks for fault-injection tests, never for production.
type TestingConfig struct {
	// Byzantine makes this validator misbehave on purpose: silent,
	// equivocate, invalid-proposals or double-vote.
	Byzantine string `toml:"byzantine"`
	// OMCorruptState makes this validator claim a wrong state root in OM(m)
	// checkpoint verification (om_verify), so its peers raise the alarm.
	OMCorruptState bool `toml:"om_corrupt_state"`
}

// P2PConfig: libp2p listen addresses and peers.
type P2PConfig struct {
	Listen          []string `toml:"listen"`
	PersistentPeers []string `toml:"persistent_peers"`
	// TxMeshDegree is p2p.Config.TxMeshDegree: how many peers forward
	// each tx gossip message on.
	TxMeshDegree int `toml:"tx_mesh_degree"`
	// SyncServeBytesMax is p2p.Config.SyncServeBytesMax: the block bytes
	// that serving block sync to peers holds at once, one peer at most
	// 1/(f+2) of them.
	SyncServeBytesMax int `toml:"sync_serve_bytes_max"`
}

// RPCConfig: the JSON-RPC server.
type RPCConfig struct {
	Listen          string   `toml:"listen"`
	CORSOrigins     []string `toml:"cors_origins"`
	RequestBytesMax int      `toml:"request_bytes_max"`
}

// MetricsConfig: the Prometheus endpoint ("" disables it).
type MetricsConfig struct {
	Listen string `toml:"listen"`
}

// AdminConfig: the loopback-only admin endpoint the testnet's fault
// injector uses ("" disables it).
type AdminConfig struct {
	Listen string `toml:"listen"`
}

// ConsensusConfig: local timing. TickMs is the wall-clock length of one
// engine tick; the engine's timeouts are counted in ticks.
type ConsensusConfig struct {
	TickMs               uint64 `toml:"tick_ms"`
	EmptyBlockIntervalMs uint64 `toml:"empty_block_interval_ms"`
}

// MempoolConfig: limits of the pending-tx pool.
type MempoolConfig struct {
	TxsMax          int `toml:"txs_max"`
	BytesMax        int `toml:"bytes_max"`
	PerSenderTxsMax int `toml:"per_sender_txs_max"`
}

// poolConfig is the mempool's configuration for these limits. A sender's
// pending txs run from its account's nonce up, so the nonce window is as
// wide as the sender's share: with mempool's default window (64) alone,
// no sender could ever have more than 65 txs pending, whatever
// per_sender_txs_max said.
func (c MempoolConfig) poolConfig(chainID string) mempool.Config {
	mc := mempool.DefaultConfig(chainID)
	mc.TxsMax, mc.BytesMax, mc.PerSenderTxsMax = c.TxsMax, c.BytesMax, c.PerSenderTxsMax
	mc.NonceAheadMax = uint64(max(c.PerSenderTxsMax-1, 1))
	return mc
}

// SyncConfig: block sync (catch-up from peers).
type SyncConfig struct {
	// VerifyTxSignatures makes catch-up verify every tx signature of a
	// synced block instead of trusting its commit certificate for them:
	// about half the speed, for an operator who will not rely on the
	// f < n/3 assumption for blocks it did not see proposed.
	VerifyTxSignatures bool `toml:"verify_tx_signatures"`
}

// StoreConfig: the ledger store (Pebble).
type StoreConfig struct {
	// MemTableMiB sizes the store's memtables in MiB: bigger ones flush
	// and compact less often, each time for longer. `synod testnet` gives
	// the nodes of one machine different sizes, so they do not all flush
	// and compact at the same moment (see testnetMemTableMiB).
	MemTableMiB int `toml:"memtable_mib"`
	// PruneHistory keeps only each account's current state, not its value
	// after every height (ledger.StoreOptions.PruneHistory): the store
	// then grows with the number of accounts rather than with the chain,
	// and compactions rewrite less (a fifth less in BENCHMARKS.md's
	// session 14, where every tx pays a new address), but synod_getBalance
	// answers only for the head. Chosen when the node's store is created;
	// changing it later needs a fresh data directory.
	PruneHistory bool `toml:"prune_history"`
}

// MemTableBytes is the memtable size in bytes.
func (c StoreConfig) MemTableBytes() int { return c.MemTableMiB << 20 }

// LogConfig: level (debug|info|warn|error) and format (text|json).
type LogConfig struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// DefaultConfig is what `synod init` writes.
func DefaultConfig(moniker string) Config {
	return Config{
		Moniker: moniker,
		P2P: P2PConfig{
			Listen:            []string{"/ip4/127.0.0.1/tcp/26656", "/ip4/127.0.0.1/udp/26656/quic-v1"},
			TxMeshDegree:      p2p.DefaultConfig().TxMeshDegree,
			SyncServeBytesMax: p2p.DefaultConfig().SyncServeBytesMax,
		},
		RPC:       RPCConfig{Listen: "127.0.0.1:8545", RequestBytesMax: 1 << 20},
		Metrics:   MetricsConfig{Listen: "127.0.0.1:9545"},
		Consensus: ConsensusConfig{TickMs: 50, EmptyBlockIntervalMs: 1000},
		Mempool:   MempoolConfig{TxsMax: 50_000, BytesMax: 64 << 20, PerSenderTxsMax: 64},
		Store:     StoreConfig{MemTableMiB: ledger.DefaultMemTableBytes >> 20},
		Log:       LogConfig{Level: "info", Format: "text"},
	}
}

// MempoolTxsMaxCeiling bounds mempool.txs_max: the node's signature cache
// holds twice that many tx hashes (open), and a pool of 16 Mi pending txs
// already takes gigabytes.
const MempoolTxsMaxCeiling = 1 << 24

// ErrConfig wraps every config validation failure.
var ErrConfig = errors.New("config")

// Validate checks ranges and formats.
func (c *Config) Validate() error {
	if c.Moniker == "" || len(c.Moniker) > 64 || !printableASCII(c.Moniker) {
		return fmt.Errorf("%w: moniker must be 1-64 printable ASCII characters", ErrConfig)
	}
	for _, list := range [][]string{c.P2P.Listen, c.P2P.PersistentPeers, c.RPC.CORSOrigins, {c.RPC.Listen, c.Metrics.Listen, c.Admin.Listen}} {
		for _, v := range list {
			if !printableASCII(v) {
				return fmt.Errorf("%w: %q has non-printable characters", ErrConfig, v)
			}
		}
	}
	if len(c.P2P.Listen) == 0 {
		return fmt.Errorf("%w: p2p.listen needs at least one address", ErrConfig)
	}
	if c.P2P.TxMeshDegree < p2p.TxMeshDegreeMin || c.P2P.TxMeshDegree > p2p.TxMeshDegreeMax {
		return fmt.Errorf("%w: p2p.tx_mesh_degree %d not in %d..%d", ErrConfig, c.P2P.TxMeshDegree, p2p.TxMeshDegreeMin, p2p.TxMeshDegreeMax)
	}
	if c.P2P.SyncServeBytesMax < 1 || int64(c.P2P.SyncServeBytesMax) > p2p.SyncServeBytesCeiling {
		return fmt.Errorf("%w: p2p.sync_serve_bytes_max %d not in 1..%d (16 GiB)", ErrConfig, c.P2P.SyncServeBytesMax, int64(p2p.SyncServeBytesCeiling))
	}
	for _, addr := range []struct{ name, v string }{{"rpc.listen", c.RPC.Listen}, {"metrics.listen", c.Metrics.Listen}, {"admin.listen", c.Admin.Listen}} {
		if addr.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr.v); err != nil {
			return fmt.Errorf("%w: %s %q: %v", ErrConfig, addr.name, addr.v, err)
		}
	}
	if c.Admin.Listen != "" {
		host, _, _ := net.SplitHostPort(c.Admin.Listen)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%w: admin.listen %q must be a loopback address", ErrConfig, c.Admin.Listen)
		}
	}
	if c.Consensus.TickMs < 1 || c.Consensus.TickMs > 10_000 {
		return fmt.Errorf("%w: consensus.tick_ms %d not in 1..10000", ErrConfig, c.Consensus.TickMs)
	}
	if c.Consensus.EmptyBlockIntervalMs < c.Consensus.TickMs || c.Consensus.EmptyBlockIntervalMs > 600_000 {
		return fmt.Errorf("%w: consensus.empty_block_interval_ms %d not in tick_ms..600000", ErrConfig, c.Consensus.EmptyBlockIntervalMs)
	}
	if c.Mempool.TxsMax < 1 || c.Mempool.BytesMax < 1024 || c.Mempool.PerSenderTxsMax < 1 {
		return fmt.Errorf("%w: mempool limits must be positive (bytes_max >= 1024)", ErrConfig)
	}
	if c.Mempool.TxsMax > MempoolTxsMaxCeiling {
		return fmt.Errorf("%w: mempool.txs_max %d above %d", ErrConfig, c.Mempool.TxsMax, MempoolTxsMaxCeiling)
	}
	if c.Mempool.PerSenderTxsMax > mempool.PerSenderTxsCeiling {
		return fmt.Errorf("%w: mempool.per_sender_txs_max %d above %d", ErrConfig, c.Mempool.PerSenderTxsMax, mempool.PerSenderTxsCeiling)
	}
	if lo, hi := ledger.MemTableBytesMin>>20, ledger.MemTableBytesMax>>20; c.Store.MemTableMiB < lo || c.Store.MemTableMiB > hi {
		return fmt.Errorf("%w: store.memtable_mib %d not in %d..%d", ErrConfig, c.Store.MemTableMiB, lo, hi)
	}
	if c.RPC.RequestBytesMax < 1024 || c.RPC.RequestBytesMax > 64<<20 {
		return fmt.Errorf("%w: rpc.request_bytes_max %d not in 1024..64MiB", ErrConfig, c.RPC.RequestBytesMax)
	}
	if !validByzantineMode(c.Testing.Byzantine) {
		return fmt.Errorf("%w: testing.byzantine %q not one of %v", ErrConfig, c.Testing.Byzantine, ByzantineModes)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%w: log.level %q not one of debug, info, warn, error", ErrConfig, c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("%w: log.format %q not one of text, json", ErrConfig, c.Log.Format)
	}
	return nil
}

// CheckTiming checks the consensus timing against the chain's: the engine
// refuses an empty-block interval that is not below the genesis
// view-change timeout, both counted in ticks (pbft.Config.EmptyBlockTicks),
// so a node with such a pair cannot start.
func (c ConsensusConfig) CheckTiming(p ledger.ConsensusParams) error {
	if c.TickMs == 0 {
		return fmt.Errorf("%w: consensus.tick_ms is 0", ErrConfig)
	}
	emptyTicks := c.EmptyBlockIntervalMs / c.TickMs
	timeoutTicks := max(p.ViewChangeTimeoutMs/c.TickMs, 2)
	if emptyTicks >= timeoutTicks {
		return fmt.Errorf("%w: consensus.empty_block_interval_ms %d must be below the genesis view_change_timeout_ms %d (%d ticks of %d ms, not below %d)",
			ErrConfig, c.EmptyBlockIntervalMs, p.ViewChangeTimeoutMs, emptyTicks, c.TickMs, timeoutTicks)
	}
	return nil
}

// Tick is the wall-clock length of one engine tick.
func (c *Config) Tick() time.Duration { return time.Duration(c.Consensus.TickMs) * time.Millisecond }

// LoadConfig reads and validates config.toml in home. Unknown keys are
// errors, so a typo does not silently fall back to a default.
func LoadConfig(home string) (Config, error) {
	path := filepath.Join(home, ConfigFile)
	raw, err := readFileMax(path, configFileBytesMax)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return parseConfig(raw, path)
}

// parseConfig decodes and validates a config file's contents; path only
// names the file in errors.
func parseConfig(raw []byte, path string) (Config, error) {
	cfg := DefaultConfig("")
	md, err := toml.NewDecoder(bytes.NewReader(raw)).Decode(&cfg)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return Config{}, fmt.Errorf("%w: %s: unknown key %q", ErrConfig, path, undecoded[0].String())
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// WriteConfig writes cfg as config.toml in home, every field with a comment
// saying what it does.
func WriteConfig(home string, cfg Config) error {
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, cfg); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	// Check the generated file parses before writing it.
	var back Config
	if _, err := toml.NewDecoder(bytes.NewReader(buf.Bytes())).Decode(&back); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return writeFileAtomic(filepath.Join(home, ConfigFile), buf.Bytes(), 0o644)
}

var configTemplate = template.Must(template.New("config").Funcs(template.FuncMap{
	"q":    func(s string) string { return strconv.Quote(s) },
	"list": quoteList,
}).Parse(`# Synod node configuration. Settings every validator must share
# (validators, checkpoint interval, window, timeouts, block limits) live in
# genesis.json instead. Flags of 'synod start' override fields here.

# Human-readable name of this node, in logs and synod_status.
moniker = {{q .Moniker}}

# Run OM(m) interactive consistency on every stable checkpoint's state root
# and raise an alarm on a mismatch (--om-verify).
om_verify = {{.OMVerify}}

[p2p]
# libp2p listen multiaddrs (TCP and QUIC).
listen = {{list .P2P.Listen}}
# Peers to keep connected (multiaddrs ending in /p2p/<peer id>); dropped
# connections are re-dialled with backoff.
persistent_peers = {{list .P2P.PersistentPeers}}
# Gossip mesh degree for txs: how many peers forward each tx batch on
# (2..12). A node sends its own txs to every connected peer; forwarding
# adds redundancy, and on a fully connected validator set only duplicates.
# Raise it on sparse networks where most nodes are not directly connected.
tx_mesh_degree = {{.P2P.TxMeshDegree}}
# Bytes of blocks that serving block sync to catching-up peers may hold at
# once (1..17179869184); a block larger than this is served alone. One peer
# holds at most 1/(f+2) of it, f = (validators-1)/3, so f faulty validators
# reading slowly leave room for the others. A block larger than that share
# is served when its peer holds no other: with large blocks and many
# validators, (f+2) times the block size keeps that room.
sync_serve_bytes_max = {{.P2P.SyncServeBytesMax}}

[rpc]
# JSON-RPC 2.0 (HTTP POST /, WebSocket /ws, /health). Loopback by default;
# "" disables it.
listen = {{q .RPC.Listen}}
# Browser origins allowed to call the API ("*" for any); empty: no CORS.
cors_origins = {{list .RPC.CORSOrigins}}
# Largest request body in bytes.
request_bytes_max = {{.RPC.RequestBytesMax}}

[metrics]
# Prometheus /metrics; "" disables it.
listen = {{q .Metrics.Listen}}

[admin]
# Loopback-only admin endpoint used by the testnet's fault injector
# (partition, heal, status); "" disables it.
listen = {{q .Admin.Listen}}

[consensus]
# Wall-clock length of one consensus tick in milliseconds; timeouts from
# genesis are counted in ticks.
tick_ms = {{.Consensus.TickMs}}
# The primary proposes at least this often (milliseconds) even with no
# transactions, so an idle chain is told apart from a stalled one. Must be
# below the genesis view_change_timeout_ms.
empty_block_interval_ms = {{.Consensus.EmptyBlockIntervalMs}}

[mempool]
# Most pending transactions kept (1..16777216).
txs_max = {{.Mempool.TxsMax}}
# Most bytes of pending transactions kept.
bytes_max = {{.Mempool.BytesMax}}
# Most pending transactions of one sender (1..4096).
per_sender_txs_max = {{.Mempool.PerSenderTxsMax}}

[sync]
# Catching up, a block's commit certificate (2f+1 validators, so at least
# f+1 honest ones that checked every signature) vouches for its txs'
# signatures. true verifies them all again: about half the catch-up speed.
verify_tx_signatures = {{.Sync.VerifyTxSignatures}}

[store]
# Memtable size of the ledger store in MiB (4..31): larger ones flush and
# compact less often, each time for longer.
memtable_mib = {{.Store.MemTableMiB}}
# Keep only each account's current state, not its history: the store grows
# with the accounts rather than the chain and compacts less, but
# synod_getBalance then answers only for the head. Fixed when the store is
# created; changing it needs a fresh data directory.
prune_history = {{.Store.PruneHistory}}

[log]
# debug, info, warn or error.
level = {{q .Log.Level}}
# text or json.
format = {{q .Log.Format}}
{{if or .Testing.Byzantine .Testing.OMCorruptState}}
# TEST HOOK: this validator misbehaves on purpose. Never in production.
[testing]
{{- if .Testing.Byzantine}}
byzantine = {{q .Testing.Byzantine}}
{{- end}}
{{- if .Testing.OMCorruptState}}
om_corrupt_state = true
{{- end}}
{{end}}`))

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// printableASCII reports whether s is safe to write as a quoted TOML string
// with Go quoting (no control or non-ASCII characters).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// readFileMax reads a whole file of at most max bytes.
func readFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s: %d bytes exceeds limit %d", path, st.Size(), max)
	}
	buf := make([]byte, st.Size())
	if _, err := f.ReadAt(buf, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return buf, nil
}

// writeFileAtomic writes via a temp file, fsync and rename, then fsyncs the
// directory, so a crash leaves the old file or the new one, never half.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
