package node

import (
	"fmt"

	"errors"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/mempool"
	"github.com/synod-chain/synod/rpc"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigRoundTrip writes the default config with its comments and
// reads it back field for field.
func TestConfigRoundTrip(t *testing.T) {
	home := t.TempDir()
	cfg := DefaultConfig("alpha")
	cfg.P2P.PersistentPeers = []string{"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWBbAo6NkGA1TxHxDeQPFinLR9pVKqENKoRGW9famPqHDa"}
	cfg.RPC.CORSOrigins = []string{"http://localhost:3000"}
	cfg.P2P.TxMeshDegree = 5
	cfg.P2P.SyncServeBytesMax = 256 << 20
	cfg.Store.MemTableMiB = 20
	cfg.Store.PruneHistory = true
	if err := WriteConfig(home, cfg); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(home, ConfigFile))
	if strings.Count(string(raw), "\n# ") < 15 {
		t.Fatalf("generated config has too few comments:\n%s", raw)
	}
	if !strings.Contains(string(raw), "\nsync_serve_bytes_max = 268435456\n") {
		t.Fatalf("generated config does not write p2p.sync_serve_bytes_max:\n%s", raw)
	}
	got, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if got.Moniker != cfg.Moniker || got.P2P.PersistentPeers[0] != cfg.P2P.PersistentPeers[0] || got.RPC.CORSOrigins[0] != cfg.RPC.CORSOrigins[0] ||
		got.P2P.TxMeshDegree != 5 || got.P2P.SyncServeBytesMax != 256<<20 || got.Store.MemTableMiB != 20 || !got.Store.PruneHistory || got.Consensus != cfg.Consensus || got.Mempool != cfg.Mempool || got.Log != cfg.Log || got.RPC.Listen != cfg.RPC.Listen {
		t.Fatalf("read back %+v, wrote %+v", got, cfg)
	}
}

// TestConfigRejects checks that unknown keys and bad values are errors at
// load time, each naming the field.
func TestConfigRejects(t *testing.T) {
	cases := map[string]struct{ edit, want string }{
		"unknown key":            {`moniker = "x"` + "\nmonicker = \"typo\"", "monicker"},
		"bad log level":          {`[log]` + "\nlevel = \"loud\"", "log.level"},
		"tick zero":              {`[consensus]` + "\ntick_ms = 0", "tick_ms"},
		"empty below tick":       {`[consensus]` + "\ntick_ms = 100\nempty_block_interval_ms = 10", "empty_block_interval_ms"},
		"admin not local":        {`[admin]` + "\nlisten = \"0.0.0.0:9\"", "admin.listen"},
		"bad rpc addr":           {`[rpc]` + "\nlisten = \"nocolon\"", "rpc.listen"},
		"not toml":               {`moniker = `, "config"},
		"mesh degree 1":          {`[p2p]` + "\ntx_mesh_degree = 1", "tx_mesh_degree"},
		"mesh degree 13":         {`[p2p]` + "\ntx_mesh_degree = 13", "tx_mesh_degree"},
		"serve bytes 0":          {`[p2p]` + "\nsync_serve_bytes_max = 0", "p2p.sync_serve_bytes_max 0 not in 1..17179869184"},
		"serve bytes -1":         {`[p2p]` + "\nsync_serve_bytes_max = -1", "p2p.sync_serve_bytes_max -1 not in"},
		"serve bytes 16 GiB + 1": {`[p2p]` + "\nsync_serve_bytes_max = 17179869185", "p2p.sync_serve_bytes_max 17179869185 not in"},
		"serve bytes a string":   {`[p2p]` + "\nsync_serve_bytes_max = \"64MiB\"", "p2p.sync_serve_bytes_max"},
		"serve bytes a float":    {`[p2p]` + "\nsync_serve_bytes_max = 1.5e6", "p2p.sync_serve_bytes_max"},
		"serve bytes past int64": {`[p2p]` + "\nsync_serve_bytes_max = 9223372036854775808", "p2p.sync_serve_bytes_max"},
		"memtable 3 MiB":         {`[store]` + "\nmemtable_mib = 3", "store.memtable_mib"},
		"memtable 32 MiB":        {`[store]` + "\nmemtable_mib = 32", "store.memtable_mib"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			body := c.edit
			if !strings.HasPrefix(body, "moniker") {
				body = "moniker = \"x\"\n" + body
			}
			if err := os.WriteFile(filepath.Join(home, ConfigFile), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(home)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an ErrConfig naming %q", err, c.want)
			}
		})
	}
}

// TestRPCErrorMapsMempoolRefusals checks each mempool refusal reaches the
// wallet as the rpc sentinel that carries its JSON-RPC code.
func TestRPCErrorMapsMempoolRefusals(t *testing.T) {
	cases := []struct{ pool, want error }{
		{mempool.ErrDuplicate, rpc.ErrTxDuplicate},
		{mempool.ErrReplacementUnderpriced, rpc.ErrTxUnderpriced},
		{mempool.ErrSenderFull, rpc.ErrTxSenderLimit},
		{mempool.ErrMempoolFull, rpc.ErrMempoolFull},
		{mempool.ErrNonceTooFarAhead, ledger.ErrTxNonceGap},
	}
	for _, c := range cases {
		got := rpcError(fmt.Errorf("add: %w", c.pool))
		if !errors.Is(got, c.want) || !errors.Is(got, c.pool) {
			t.Errorf("%v mapped to %v, want it to wrap %v", c.pool, got, c.want)
		}
	}
	if err := rpcError(ledger.ErrTxBadSignature); err != ledger.ErrTxBadSignature {
		t.Errorf("ledger error changed: %v", err)
	}
}

// TestConfigRejectsMempoolLimitsTheNodeCannotRun: mempool limits the node
// would refuse or crash on once it builds the pool (a txs_max whose
// signature cache, twice its size, overflows; a per-sender limit above the
// pool's ceiling) are refused by config validation with the key's name,
// not by a panic or a late error naming an internal field.
func TestConfigRejectsMempoolLimitsTheNodeCannotRun(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"txs_max 2^62":                 {func(c *Config) { c.Mempool.TxsMax = 1 << 62 }, "mempool.txs_max"},
		"per_sender_txs_max too large": {func(c *Config) { c.Mempool.PerSenderTxsMax = mempool.PerSenderTxsCeiling + 1 }, "mempool.per_sender_txs_max"},
	} {
		cfg := DefaultConfig("x")
		c.edit(&cfg)
		if err := cfg.Validate(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: got %v, want an ErrConfig naming %q", name, err, c.want)
		}
	}
	cfg := DefaultConfig("x")
	cfg.Mempool.TxsMax, cfg.Mempool.PerSenderTxsMax = 10_000_000, mempool.PerSenderTxsCeiling
	if err := cfg.Validate(); err != nil {
		t.Fatalf("largest limits refused: %v", err)
	}
}

// TestMempoolConfigWindowFitsPerSenderLimit: per_sender_txs_max must be
// what bounds a sender's pending txs. They run from its account's nonce
// up, so the pool's nonce window must hold that many: with the mempool's
// default window the setting did nothing above 65.
func TestMempoolConfigWindowFitsPerSenderLimit(t *testing.T) {
	for _, perSender := range []int{1, 64, 1000, mempool.PerSenderTxsCeiling} {
		c := DefaultConfig("n").Mempool
		c.PerSenderTxsMax = perSender
		mc := c.poolConfig("chain")
		if mc.PerSenderTxsMax != perSender || mc.TxsMax != c.TxsMax || mc.BytesMax != c.BytesMax {
			t.Fatalf("per sender %d: pool config %+v", perSender, mc)
		}
		if mc.NonceAheadMax+1 < uint64(perSender) {
			t.Fatalf("per sender %d: nonce window %d holds only %d pending txs", perSender, mc.NonceAheadMax, mc.NonceAheadMax+1)
		}
		if err := mc.Validate(); err != nil {
			t.Fatalf("per sender %d: %v", perSender, err)
		}
	}
}
