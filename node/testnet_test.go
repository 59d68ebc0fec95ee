package node

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// TestTestnetStaggersMemtables: the generated nodes' configs carry
// memtable sizes spread over 12..24 MiB, all different and all valid, so
// co-located nodes do not flush and compact in lockstep.
func TestTestnetStaggersMemtables(t *testing.T) {
	dir := t.TempDir()
	nodes, err := GenerateTestnet(TestnetOptions{Validators: 4, OutDir: dir, ChainID: "stagger-net", BasePort: 40000,
		Accounts: 1, Params: ledger.DefaultConsensusParams()})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, n := range nodes {
		cfg, err := LoadConfig(n.Home)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, cfg.Store.MemTableMiB)
	}
	if want := []int{12, 16, 20, 24}; !slices.Equal(sizes, want) {
		t.Fatalf("memtable sizes %v MiB, want %v", sizes, want)
	}
	for n := 1; n <= 7; n++ {
		seen := map[int]bool{}
		for i := range n {
			mib := testnetMemTableMiB(i, n)
			if mib<<20 < ledger.MemTableBytesMin || mib<<20 > ledger.MemTableBytesMax || seen[mib] {
				t.Fatalf("node %d of %d: %d MiB (seen: %v)", i, n, mib, seen)
			}
			seen[mib] = true
		}
	}
}

// TestTestnetPruneHistory: --prune-history reaches every node's config,
// and without it every node keeps history.
func TestTestnetPruneHistory(t *testing.T) {
	for _, prune := range []bool{false, true} {
		nodes, err := GenerateTestnet(TestnetOptions{Validators: 2, OutDir: t.TempDir(), ChainID: "prune-net", BasePort: 40100,
			Accounts: 1, PruneHistory: prune, Params: ledger.DefaultConsensusParams()})
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range nodes {
			cfg, err := LoadConfig(n.Home)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Store.PruneHistory != prune {
				t.Fatalf("prune %v: node %d has prune_history %v", prune, i, cfg.Store.PruneHistory)
			}
		}
	}
}

// TestTestnetRefusesBadOptionsBeforeWriting: options that make an invalid
// genesis (chain id, consensus parameters) are refused before anything is
// written, so the operator can fix the flag and run the same command again
// on the same directory.
func TestTestnetRefusesBadOptionsBeforeWriting(t *testing.T) {
	noCheckpoints := ledger.DefaultConsensusParams()
	noCheckpoints.CheckpointInterval = 0
	// A NEW-VIEW of 4 validators with 20,000 heights in flight exceeds
	// pbft.MessageBytesMax: no node could start (pbft.CheckParams).
	wideWindow := ledger.DefaultConsensusParams()
	wideWindow.CheckpointInterval, wideWindow.WindowHeights = 10_000, 20_000
	for name, tc := range map[string]struct {
		chainID    string
		params     ledger.ConsensusParams
		validators int
	}{
		"chain id with a space":          {"bad id", ledger.DefaultConsensusParams(), 2},
		"checkpoint interval 0":          {"good-net", noCheckpoints, 2},
		"window too wide for a NEW-VIEW": {"good-net", wideWindow, 4},
	} {
		dir := t.TempDir()
		_, err := GenerateTestnet(TestnetOptions{Validators: tc.validators, OutDir: dir, ChainID: tc.chainID, BasePort: 40200,
			Accounts: 1, Params: tc.params})
		if err == nil {
			t.Fatalf("%s: generated", name)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("%s: refused (%v) but left %d entries in the output directory", name, err, len(entries))
		}
	}
}

// TestInitDevChainRefusesBadChainIDBeforeWriting: `synod init` with an
// invalid --chain-id writes nothing, so the same home can be initialised
// once the flag is fixed.
func TestInitDevChainRefusesBadChainIDBeforeWriting(t *testing.T) {
	home := t.TempDir()
	opts := DevChainOptions{Home: home, Moniker: "dev", ChainID: "bad id", KDF: crypto.LightKDFParams()}
	if _, err := InitDevChain(opts); !errors.Is(err, ledger.ErrGenesis) {
		t.Fatalf("bad chain id: %v", err)
	}
	opts.ChainID = "good-id"
	if _, err := InitDevChain(opts); err != nil {
		t.Fatalf("init after fixing the chain id: %v", err)
	}
}

// TestTestnetNodesStartWithAShortTimeout: with a view-change timeout not
// above the default empty-block interval (in ticks) every generated node
// would refuse to start; the generator gives the nodes an interval below
// the timeout instead, and keeps the default when the timeout allows it.
func TestTestnetNodesStartWithAShortTimeout(t *testing.T) {
	def := DefaultConfig("").Consensus
	for _, timeoutMs := range []uint64{10, 100, 500, def.EmptyBlockIntervalMs, def.EmptyBlockIntervalMs + def.TickMs, 2000} {
		params := ledger.DefaultConsensusParams()
		params.ViewChangeTimeoutMs = timeoutMs
		nodes, err := GenerateTestnet(TestnetOptions{Validators: 2, OutDir: t.TempDir(), ChainID: "timing-net", BasePort: 40300,
			Accounts: 1, Params: params})
		if err != nil {
			t.Fatalf("timeout %d ms: %v", timeoutMs, err)
		}
		for i, n := range nodes {
			cfg, err := LoadConfig(n.Home)
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Consensus.CheckTiming(params); err != nil {
				t.Fatalf("timeout %d ms: node %d cannot start: %v", timeoutMs, i, err)
			}
			if timeoutMs >= 2*def.EmptyBlockIntervalMs && cfg.Consensus.EmptyBlockIntervalMs != def.EmptyBlockIntervalMs {
				t.Fatalf("timeout %d ms: empty-block interval %d ms, want the default %d", timeoutMs, cfg.Consensus.EmptyBlockIntervalMs, def.EmptyBlockIntervalMs)
			}
		}
	}
}

// TestTestnetRefusesOMVerifyOnTooManyValidators: OM(m) verification with
// m = f has a limit on n (om.TreeNodesMax, and omMessagesPerRunMax: from
// 13 validators on, each run is over 100,000 signatures a node), and a
// node with om_verify on a larger chain refuses to start; the generator
// refuses such a network before writing anything rather than write one no
// node of which starts.
func TestTestnetRefusesOMVerifyOnTooManyValidators(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{{12, true}, {13, false}, {16, false}} {
		dir := t.TempDir()
		_, err := GenerateTestnet(TestnetOptions{Validators: tc.n, OutDir: dir, ChainID: "om-net", BasePort: 40400,
			Accounts: 1, OMVerify: true, Params: ledger.DefaultConsensusParams()})
		entries, _ := os.ReadDir(dir)
		switch {
		case tc.ok && err != nil:
			t.Fatalf("%d validators: %v", tc.n, err)
		case !tc.ok && (err == nil || len(entries) != 0):
			t.Fatalf("%d validators with om_verify: err %v, %d entries written", tc.n, err, len(entries))
		}
	}
}

// TestValidatorPeersRefuseSharedPeerID: two genesis validators naming the
// same peer in their net addresses would make every message meant for one
// go to the other (which, with om_verify, penalizes the honest sender for
// a misaddressed envelope); the node refuses such a genesis at start.
func TestValidatorPeersRefuseSharedPeerID(t *testing.T) {
	nodes, err := GenerateTestnet(TestnetOptions{Validators: 3, OutDir: t.TempDir(), ChainID: "peer-net", BasePort: 40500,
		Accounts: 1, Params: ledger.DefaultConsensusParams()})
	if err != nil {
		t.Fatal(err)
	}
	g, err := ledger.ReadGenesisFile(filepath.Join(nodes[0].Home, GenesisFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validatorPeers(g); err != nil {
		t.Fatalf("generated genesis: %v", err)
	}
	g.Validators[2].NetAddress = g.Validators[0].NetAddress
	if _, err := validatorPeers(g); err == nil {
		t.Fatal("validators 0 and 2 share a peer id, and the genesis was accepted")
	}
}
