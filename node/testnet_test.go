package node

import (
	"slices"
	"testing"

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
