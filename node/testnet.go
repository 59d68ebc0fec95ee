package node

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// Testnet limits.
const (
	TestnetValidatorsMax = 64
	TestnetAccountsMax   = 10_000
	// TestnetPortsPerNode: p2p (tcp and udp/quic), rpc, metrics, admin.
	TestnetPortsPerNode = 10
)

// TestnetOptions configure GenerateTestnet.
type TestnetOptions struct {
	Validators int
	OutDir     string
	ChainID    string
	// BasePort: node i uses BasePort+10i (p2p), +1 (rpc), +2 (metrics),
	// +3 (admin).
	BasePort int
	// Accounts funded in genesis; their keys go to OutDir/wallets.
	Accounts       int
	AccountBalance uint64
	OMVerify       bool
	// PruneHistory: every node keeps only the current state
	// (StoreConfig.PruneHistory).
	PruneHistory bool
	Params       ledger.ConsensusParams
	// Rand is the key source; nil means crypto/rand.
	Rand io.Reader
}

// TestnetNode describes one generated node.
type TestnetNode struct {
	Home    string
	Moniker string
	RPC     string // http://host:port
	Admin   string // host:port of the admin endpoint
	PeerID  string
}

// testnetMemTableMiB spreads the nodes' memtable sizes evenly over
// 12..24 MiB. The nodes of a local network store the same blocks; with
// equal memtables they would flush, and compact level 0 into the base
// level, at the same moments, and on shared cores four compactions of a
// few seconds at once stall every node together. Staggered, a node's
// compaction slows that node alone, and the others still form a quorum.
func testnetMemTableMiB(i, n int) int {
	if n < 2 {
		return ledger.DefaultMemTableBytes >> 20
	}
	return 12 + 12*i/(n-1)
}

// testnetEmptyBlockIntervalMs is the nodes' empty-block interval: the
// default, or a quarter of a view-change timeout too short for it (at
// least a tick). The engine refuses an interval that is not below the
// timeout, so with the default a short --view-change-timeout-ms made a
// network none of whose nodes would start.
func testnetEmptyBlockIntervalMs(c ConsensusConfig, p ledger.ConsensusParams) uint64 {
	if c.CheckTiming(p) == nil {
		return c.EmptyBlockIntervalMs
	}
	return max(p.ViewChangeTimeoutMs/4, c.TickMs)
}

// GenerateTestnet writes a whole local network: one home per validator
// (config with distinct loopback ports and every other node as a persistent
// peer, keys, the shared genesis), funded wallets in OutDir/wallets and the
// password file the homes and wallets share. Keys are encrypted with light
// KDF parameters: a testnet's keys are throwaway, and starting N nodes
// must not take N seconds of argon2.
func GenerateTestnet(opts TestnetOptions) ([]TestnetNode, error) {
	switch {
	case opts.Validators < 1 || opts.Validators > TestnetValidatorsMax:
		return nil, fmt.Errorf("testnet: validators %d not in 1..%d", opts.Validators, TestnetValidatorsMax)
	case opts.Accounts < 0 || opts.Accounts > TestnetAccountsMax:
		return nil, fmt.Errorf("testnet: accounts %d not in 0..%d", opts.Accounts, TestnetAccountsMax)
	case opts.BasePort < 1024 || opts.BasePort+TestnetPortsPerNode*opts.Validators > 65535:
		return nil, fmt.Errorf("testnet: base port %d leaves no room for %d nodes", opts.BasePort, opts.Validators)
	case opts.OutDir == "":
		return nil, errors.New("testnet: no output directory")
	case opts.Accounts > 0 && opts.AccountBalance > math.MaxUint64/uint64(opts.Accounts):
		return nil, fmt.Errorf("testnet: %d accounts of %d overflow the supply", opts.Accounts, opts.AccountBalance)
	}
	// The genesis is checked whole only once every home is written; check
	// what the options control first, so a bad flag leaves nothing behind
	// (the directory must be empty for the next try).
	if err := ledger.ValidateChainID(opts.ChainID); err != nil {
		return nil, err
	}
	if err := opts.Params.Validate(); err != nil {
		return nil, err
	}
	// Every node would refuse to start (pbft.NewReplica checks the same).
	if err := pbft.CheckParams(opts.Validators, opts.Params); err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	if opts.OMVerify {
		// f of n validators, as the genesis validator set gives it.
		if err := omVerifySupported(opts.Validators, (opts.Validators-1)/3, 0); err != nil {
			return nil, fmt.Errorf("testnet: %w", err)
		}
	}
	if entries, err := os.ReadDir(opts.OutDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("testnet: %s is not empty", opts.OutDir)
	}
	rng := opts.Rand
	if rng == nil {
		rng = rand.Reader
	}
	if opts.AccountBalance == 0 {
		opts.AccountBalance = 1_000_000_000
	}
	if opts.Accounts == 0 {
		opts.Accounts = 1 // genesis needs a non-zero supply
	}
	password, err := randomPassword(rng)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(opts.OutDir, "password.txt"), password, 0o600); err != nil {
		return nil, err
	}
	g := &ledger.Genesis{ChainID: opts.ChainID, GenesisTime: time.Now().UTC().Truncate(time.Second), Consensus: opts.Params}
	nodes := make([]TestnetNode, opts.Validators)
	p2pAddrs := make([]string, opts.Validators)
	for i := range nodes {
		port := opts.BasePort + TestnetPortsPerNode*i
		cfg := DefaultConfig(fmt.Sprintf("node%d", i))
		cfg.OMVerify = opts.OMVerify
		cfg.Store.PruneHistory = opts.PruneHistory
		cfg.P2P.Listen = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port)}
		cfg.RPC.Listen = fmt.Sprintf("127.0.0.1:%d", port+1)
		cfg.Metrics.Listen = fmt.Sprintf("127.0.0.1:%d", port+2)
		cfg.Admin.Listen = fmt.Sprintf("127.0.0.1:%d", port+3)
		cfg.Store.MemTableMiB = testnetMemTableMiB(i, opts.Validators)
		cfg.Consensus.EmptyBlockIntervalMs = testnetEmptyBlockIntervalMs(cfg.Consensus, opts.Params)
		if err := cfg.Consensus.CheckTiming(opts.Params); err != nil {
			return nil, fmt.Errorf("testnet: %w", err)
		}
		home := filepath.Join(opts.OutDir, cfg.Moniker)
		keys, err := InitHome(home, cfg, password, crypto.LightKDFParams(), rng)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(home, PasswordFile), password, 0o600); err != nil {
			return nil, err
		}
		id, err := p2p.PeerIDFromKey(keys.Node.Public())
		if err != nil {
			return nil, err
		}
		p2pAddrs[i] = fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, id)
		g.Validators = append(g.Validators, ledger.Validator{Name: cfg.Moniker, PublicKey: keys.Validator.Public(), NetAddress: p2pAddrs[i]})
		nodes[i] = TestnetNode{Home: home, Moniker: cfg.Moniker, RPC: "http://" + cfg.RPC.Listen, Admin: cfg.Admin.Listen, PeerID: id.String()}
	}
	wallets, err := crypto.OpenKeystore(filepath.Join(opts.OutDir, "wallets"))
	if err != nil {
		return nil, err
	}
	for i := 0; i < opts.Accounts; i++ {
		k, err := crypto.GenerateKey(rng)
		if err != nil {
			return nil, err
		}
		if _, err := wallets.Store(k, password, crypto.LightKDFParams(), rng); err != nil {
			return nil, err
		}
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: k.Public().Address(), Amount: ledger.Amount(opts.AccountBalance)})
	}
	if err := writeFileAtomic(filepath.Join(opts.OutDir, "wallets", "password.txt"), password, 0o600); err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	for i, n := range nodes {
		cfg, err := LoadConfig(n.Home)
		if err != nil {
			return nil, err
		}
		for j, addr := range p2pAddrs {
			if j != i {
				cfg.P2P.PersistentPeers = append(cfg.P2P.PersistentPeers, addr)
			}
		}
		if err := WriteConfig(n.Home, cfg); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(n.Home, GenesisFile), g.Encode(), 0o644); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

func randomPassword(rng io.Reader) ([]byte, error) {
	var b [16]byte
	if _, err := io.ReadFull(rng, b[:]); err != nil {
		return nil, err
	}
	return []byte(hex.EncodeToString(b[:])), nil
}

// ReadTestnet describes the nodes of a testnet GenerateTestnet wrote to dir,
// in validator order, from their configs and the shared genesis.
func ReadTestnet(dir string) ([]TestnetNode, error) {
	var nodes []TestnetNode
	for i := 0; i < TestnetValidatorsMax; i++ {
		home := filepath.Join(dir, fmt.Sprintf("node%d", i))
		if _, err := os.Stat(filepath.Join(home, ConfigFile)); err != nil {
			break
		}
		cfg, err := LoadConfig(home)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, TestnetNode{Home: home, Moniker: cfg.Moniker, RPC: "http://" + cfg.RPC.Listen, Admin: cfg.Admin.Listen})
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("testnet: no node homes in %s", dir)
	}
	g, err := ledger.ReadGenesisFile(filepath.Join(nodes[0].Home, GenesisFile))
	if err != nil {
		return nil, err
	}
	ids, err := validatorPeers(g)
	if err != nil {
		return nil, err
	}
	if len(ids) != len(nodes) {
		return nil, fmt.Errorf("testnet: %d homes but %d genesis validators", len(nodes), len(ids))
	}
	for i := range nodes {
		nodes[i].PeerID = ids[i].String()
	}
	return nodes, nil
}
