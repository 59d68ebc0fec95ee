package ledger_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// TestDecodeGenesisRoundTrip checks that a valid document decodes, that
// Encode gives back the same bytes (Encode is a fixed point), and that a
// file read by ReadGenesisFile is the same document.
func TestDecodeGenesisRoundTrip(t *testing.T) {
	g := testGenesis(4, 1000, math.MaxUint64/2, 7)
	g.Validators[0].NetAddress = "/ip4/127.0.0.1/tcp/26656"
	doc := g.Encode()
	got, err := ledger.DecodeGenesis(doc)
	if err != nil {
		t.Fatalf("DecodeGenesis: %v\n%s", err, doc)
	}
	if !bytes.Equal(got.Encode(), doc) {
		t.Fatalf("Encode(DecodeGenesis(doc)) != doc:\n%s\n%s", got.Encode(), doc)
	}
	if got.Hash() != g.Hash() || got.TotalSupply() != g.TotalSupply() {
		t.Fatalf("decoded document has another hash or supply")
	}
	if !strings.Contains(string(doc), `"amount": "9223372036854775807"`) {
		t.Fatalf("amounts are not decimal strings:\n%s", doc)
	}
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := ledger.ReadGenesisFile(path)
	if err != nil || fromFile.Hash() != g.Hash() {
		t.Fatalf("ReadGenesisFile: %v", err)
	}
}

// TestDecodeGenesisRejects checks that each kind of bad document is
// refused with ErrGenesis and a message naming the problem: it breaks a
// valid document one field (or one byte of JSON) at a time.
func TestDecodeGenesisRejects(t *testing.T) {
	edit := func(f func(g *ledger.Genesis)) []byte {
		g := testGenesis(4, 1000, 2000)
		f(g)
		return g.Encode()
	}
	valid := edit(func(*ledger.Genesis) {})
	replace := func(old, new string) []byte {
		if !bytes.Contains(valid, []byte(old)) {
			t.Fatalf("fixture: %q not in the document", old)
		}
		return bytes.Replace(valid, []byte(old), []byte(new), 1)
	}
	cases := []struct {
		name   string
		doc    []byte
		reason string
		also   error
	}{
		{"empty chain id", edit(func(g *ledger.Genesis) { g.ChainID = "" }), "chain_id", nil},
		{"chain id with a space", edit(func(g *ledger.Genesis) { g.ChainID = "synod test" }), "chain_id", nil},
		{"chain id starting with a dash", edit(func(g *ledger.Genesis) { g.ChainID = "-synod" }), "chain_id", nil},
		{"chain id of 65 bytes", edit(func(g *ledger.Genesis) { g.ChainID = strings.Repeat("c", 65) }), "chain_id", nil},
		{"no genesis time", edit(func(g *ledger.Genesis) { g.GenesisTime = time.Time{} }), "genesis_time", nil},
		{"no validators", edit(func(g *ledger.Genesis) { g.Validators = nil }), "validator", ledger.ErrNoValidators},
		{"duplicate validator keys", edit(func(g *ledger.Genesis) { g.Validators[2].PublicKey = g.Validators[0].PublicKey }), "share public key", nil},
		{"small-order validator key", replace(testKey(1).Public().String(), identityKey.String()), "small-order", crypto.ErrKeySmallOrder},
		{"duplicate accounts", edit(func(g *ledger.Genesis) { g.Accounts[1].Address = g.Accounts[0].Address }), "listed twice", nil},
		{"zero amount", edit(func(g *ledger.Genesis) { g.Accounts[1].Amount = 0 }), "zero amount", nil},
		{"total supply overflow", edit(func(g *ledger.Genesis) { g.Accounts[1].Amount = math.MaxUint64 - 999 }), "overflows", nil},
		{"zero supply", edit(func(g *ledger.Genesis) { g.Accounts = nil }), "zero total supply", nil},
		{"checkpoint interval 0", edit(func(g *ledger.Genesis) { g.Consensus.CheckpointInterval = 0 }), "checkpoint_interval", nil},
		{"window below checkpoint", edit(func(g *ledger.Genesis) { g.Consensus.WindowHeights = g.Consensus.CheckpointInterval - 1 }), "window_heights", nil},
		{"window beyond the pending chain", edit(func(g *ledger.Genesis) { g.Consensus.WindowHeights = ledger.WindowHeightsMax + 1 }), "window_heights", nil},
		{"view change timeout too short", edit(func(g *ledger.Genesis) { g.Consensus.ViewChangeTimeoutMs = 9 }), "view_change_timeout_ms", nil},
		{"block txs max 0", edit(func(g *ledger.Genesis) { g.Consensus.BlockTxsMax = 0 }), "block_txs_max", nil},
		{"block txs max over the ceiling", edit(func(g *ledger.Genesis) { g.Consensus.BlockTxsMax = ledger.BlockTxsMax + 1 }), "block_txs_max", nil},
		{"block bytes max below one tx", edit(func(g *ledger.Genesis) { g.Consensus.BlockBytesMax = 100 }), "block_bytes_max", nil},
		{"block bytes max over the ceiling", edit(func(g *ledger.Genesis) { g.Consensus.BlockBytesMax = ledger.BlockBytesMax + 1 }), "block_bytes_max", nil},
		{"unknown top-level field", replace(`"chain_id"`, `"chainid": "x", "chain_id"`), "unknown field", nil},
		{"unknown consensus field", replace(`"checkpoint_interval"`, `"block_time_ms": 5, "checkpoint_interval"`), "unknown field", nil},
		{"amount as a JSON number", replace(`"amount": "1000"`, `"amount": 1000`), "parse", nil},
		{"negative amount", replace(`"amount": "1000"`, `"amount": "-1000"`), "parse", nil},
		{"bad address hex", replace(`"address": "0x`, `"address": "0xzz`), "parse", nil},
		{"trailing garbage", append(bytes.Clone(valid), "x"...), "trailing", nil},
		{"a second document", append(bytes.Clone(valid), valid...), "trailing", nil},
		{"trailing closing brace", append(bytes.Clone(valid), "}"...), "trailing", nil},
		{"trailing closing bracket", append(bytes.Clone(valid), "]"...), "trailing", nil},
		{"not an object", []byte(`[]`), "parse", nil},
		{"null", []byte(`null`), "chain_id", nil},
		{"empty input", nil, "parse", nil},
		{"oversized input", append(bytes.Clone(valid), bytes.Repeat([]byte{' '}, ledger.GenesisBytesMax)...), "exceeds", nil},
	}
	for _, tc := range cases {
		g, err := ledger.DecodeGenesis(tc.doc)
		if !errors.Is(err, ledger.ErrGenesis) || !strings.Contains(err.Error(), tc.reason) || g != nil {
			t.Errorf("%s: err = %v, want ErrGenesis about %q", tc.name, err, tc.reason)
			continue
		}
		if tc.also != nil && !errors.Is(err, tc.also) {
			t.Errorf("%s: err = %v, want it to wrap %v", tc.name, err, tc.also)
		}
	}
}

// TestDecodeGenesisTimeOutsideJSONRange checks that a genesis time whose
// UTC form falls outside years 0..9999 is refused rather than accepted:
// such a document decodes today, and then Encode and Hash (hence
// GenesisBlock) panic, because encoding/json cannot write that time.
func TestDecodeGenesisTimeOutsideJSONRange(t *testing.T) {
	valid := testGenesis(1, 1000).Encode()
	for _, ts := range []string{"9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+00:01"} {
		doc := bytes.Replace(valid, []byte(fixtureGenesisTime.Format(time.RFC3339)), []byte(ts), 1)
		if bytes.Equal(doc, valid) {
			t.Fatalf("fixture: genesis time not found in the document")
		}
		g, err := ledger.DecodeGenesis(doc)
		if err != nil {
			if !errors.Is(err, ledger.ErrGenesis) {
				t.Errorf("%s: err = %v, want ErrGenesis", ts, err)
			}
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("genesis_time %s: DecodeGenesis accepted the document (time %v), then Encode/Hash panicked: %v", ts, g.GenesisTime, r)
				}
			}()
			_ = g.Encode()
			_, _ = ledger.GenesisBlock(g)
		}()
	}
}

// TestGenesisHashSurvivesEncodeDecode checks that a valid document's hash,
// which every block hash descends from, is the same for the process that
// wrote the file and for every node that reads it: it builds a document
// whose time is in a non-UTC zone, as time.Now() would give; Validate
// refusing such a document would also satisfy it.
func TestGenesisHashSurvivesEncodeDecode(t *testing.T) {
	g := testGenesis(1, 1000)
	g.GenesisTime = time.Date(2025, 6, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	if err := g.Validate(); err != nil {
		return // refusing non-UTC documents is as good a fix as hashing them in UTC
	}
	read, err := ledger.DecodeGenesis(g.Encode())
	if err != nil {
		t.Fatalf("DecodeGenesis: %v", err)
	}
	if !read.GenesisTime.Equal(g.GenesisTime) {
		t.Fatalf("the instant changed")
	}
	written, _ := ledger.GenesisBlock(g)
	loaded, _ := ledger.GenesisBlock(read)
	if g.Hash() != read.Hash() || written.Hash() != loaded.Hash() {
		t.Fatalf("writer's genesis hash %s, reader's %s: same document, two chains", g.Hash().Short(), read.Hash().Short())
	}
}

// TestGenesisBlock checks that the genesis block is a deterministic
// function of the document: height 0, parent hash = document hash, no
// txs, the genesis time, and a state root equal to the from-scratch root
// of the funded accounts.
func TestGenesisBlock(t *testing.T) {
	g := testGenesis(4, 10, 20, 30)
	b1, d1 := ledger.GenesisBlock(g)
	dec, err := ledger.DecodeGenesis(g.Encode())
	if err != nil {
		t.Fatal(err)
	}
	b2, d2 := ledger.GenesisBlock(dec)
	if b1.Hash() != b2.Hash() || d1.Root() != d2.Root() || !blockEqual(b1, b2) {
		t.Fatalf("two genesis blocks of one document differ")
	}
	h := b1.Header
	if h.Height != 0 || h.ParentHash != g.Hash() || h.ChainID != testChain || len(b1.Txs) != 0 ||
		h.TxRoot != ledger.MerkleRoot(nil) || h.Timestamp != g.GenesisTime.UnixMilli() {
		t.Fatalf("genesis header %+v", h)
	}
	want := map[crypto.Address]ledger.Account{}
	for _, a := range g.Accounts {
		want[a.Address] = ledger.Account{Balance: uint64(a.Amount)}
	}
	if h.StateRoot != rootFromScratch(want) || d1.Root() != h.StateRoot {
		t.Fatalf("genesis state root is not the root of the genesis accounts")
	}
	// Another document (one more unit somewhere) is another chain.
	g.Accounts[0].Amount++
	if b3, _ := ledger.GenesisBlock(g); b3.Hash() == b1.Hash() || b3.Header.ParentHash == h.ParentHash {
		t.Fatalf("a different document gave the same genesis block")
	}
}

// TestReadGenesisFileTooLarge checks the file reader's size limit.
func TestReadGenesisFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "genesis.json")
	doc := append(testGenesis(1, 1).Encode(), bytes.Repeat([]byte{' '}, ledger.GenesisBytesMax)...)
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.ReadGenesisFile(path); !errors.Is(err, ledger.ErrGenesis) || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v, want ErrGenesis about the size", err)
	}
	if _, err := ledger.ReadGenesisFile(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, ledger.ErrGenesis) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
}

// TestWindowHeightsMaxFitsPendingChain: the largest window genesis takes
// must leave the pending chain room for several proposals at every height
// in flight, and must itself be accepted.
func TestWindowHeightsMaxFitsPendingChain(t *testing.T) {
	if ledger.WindowHeightsMax*2 > ledger.PendingChainBlocksMax {
		t.Fatalf("window %d leaves the pending chain (%d blocks) less than two blocks a height", ledger.WindowHeightsMax, ledger.PendingChainBlocksMax)
	}
	p := ledger.DefaultConsensusParams()
	p.WindowHeights = ledger.WindowHeightsMax
	if err := p.Validate(); err != nil {
		t.Fatalf("window %d: %v", ledger.WindowHeightsMax, err)
	}
}
