package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
)

// stChain is a small chain for store tests: a genesis with funded accounts
// and a MemState mirror that knows the expected state at every height.
type stChain struct {
	genesis *Genesis
	keys    []crypto.PrivateKey
	nonces  []uint64
	mem     *MemState
	pending *PendingChain
	rng     *rand.Rand
}

func newSTChain(t testing.TB, accounts int, seed uint64) *stChain {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	c := &stChain{rng: rng, mem: NewMemState()}
	val, err := crypto.PrivateKeyFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	g := &Genesis{
		ChainID:     "store-test",
		GenesisTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Validators:  []Validator{{Name: "v0", PublicKey: val.Public()}},
		Consensus:   DefaultConsensusParams(),
	}
	for i := 0; i < accounts; i++ {
		seed := make([]byte, 32)
		seed[0], seed[1] = byte(i), 1
		k, err := crypto.PrivateKeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		c.keys = append(c.keys, k)
		c.nonces = append(c.nonces, 0)
		g.Accounts = append(g.Accounts, GenesisAccount{Address: k.Public().Address(), Amount: 1_000_000})
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	c.genesis = g
	gb, diff := GenesisBlock(g)
	c.mem.Apply(diff)
	c.pending = NewPendingChain(g.ChainID, g.Consensus, gb.Header, c.mem)
	return c
}

// next builds the next block of txs random transfers and applies it to the
// mirror; it returns the block and its diff.
func (c *stChain) next(t testing.TB, txs int) (*Block, *StateDiff) {
	t.Helper()
	var cands []*Tx
	for i := 0; i < txs; i++ {
		from := c.rng.IntN(len(c.keys))
		tx := &Tx{ChainID: c.genesis.ChainID, Nonce: c.nonces[from], To: c.keys[c.rng.IntN(len(c.keys))].Public().Address(),
			Amount: c.rng.Uint64N(1000), Fee: c.rng.Uint64N(3)}
		tx.Sign(c.keys[from])
		c.nonces[from]++
		cands = append(cands, tx)
	}
	head := c.pending.Head()
	b, err := c.pending.Build(head.Hash(), 0, c.genesis.Validators[0].Address(), head.Timestamp+1, cands)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Txs) != len(cands) {
		t.Fatalf("built %d of %d txs", len(b.Txs), len(cands))
	}
	_, diff, err := c.pending.Commit(b.Hash())
	if err != nil {
		t.Fatal(err)
	}
	c.mem.Apply(diff)
	return b, diff
}

// openDiskStore opens a store on disk in a temporary directory, holding
// c's genesis, closed when the test ends.
func openDiskStore(tb testing.TB, c *stChain) *Store {
	tb.Helper()
	s, err := OpenStore(tb.TempDir(), StoreOptions{ChainID: c.genesis.ChainID})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.InitGenesis(c.genesis); err != nil {
		tb.Fatal(err)
	}
	return s
}

func openSTStore(t testing.TB, fs vfs.FS, chainID string) *Store {
	t.Helper()
	s, err := OpenStore("db", StoreOptions{ChainID: chainID, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStoreRoundTrip writes a short chain and reads every record back,
// before and after a reopen.
func TestStoreRoundTrip(t *testing.T) {
	c := newSTChain(t, 8, 1)
	fs := vfs.NewMem()
	s := openSTStore(t, fs, c.genesis.ChainID)
	if s.Initialized() {
		t.Fatal("fresh store claims a genesis")
	}
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatalf("re-init with the same genesis: %v", err)
	}
	var blocks []*Block
	for h := 1; h <= 5; h++ {
		b, diff := c.next(t, 10)
		cert := &CommitCertificate{Height: b.Header.Height, BlockHash: b.Hash(), Signatures: []CommitSignature{{Validator: 0}}}
		if err := s.ApplyBlock(b, cert, diff); err != nil {
			t.Fatalf("apply %d: %v", h, err)
		}
		blocks = append(blocks, b)
	}
	check := func(s *Store) {
		t.Helper()
		if got := s.Head().Height; got != 5 {
			t.Fatalf("head %d, want 5", got)
		}
		for _, b := range blocks {
			got, err := s.BlockByHash(b.Hash())
			if err != nil || got.Hash() != b.Hash() {
				t.Fatalf("block %d by hash: %v", b.Height(), err)
			}
			cert, err := s.Certificate(b.Height())
			if err != nil || cert.BlockHash != b.Hash() {
				t.Fatalf("certificate %d: %v", b.Height(), err)
			}
			for i, tx := range b.Txs {
				got, h, idx, err := s.Tx(tx.Hash())
				if err != nil || h != b.Height() || idx != i || got.Hash() != tx.Hash() {
					t.Fatalf("tx %d/%d: got height %d index %d err %v", b.Height(), i, h, idx, err)
				}
			}
		}
		for addr, want := range c.mem.Accounts() {
			got, err := s.GetAccount(addr)
			if err != nil || got != want {
				t.Fatalf("account %s: got %+v, want %+v (%v)", addr, got, want, err)
			}
		}
		if s.StateHash().Root() != c.mem.StateHash().Root() {
			t.Fatal("state hash differs from the mirror")
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSTStore(t, fs, c.genesis.ChainID)
	defer s.Close()
	check(s)
}

// TestStoreRefusals checks each way a write or an open is refused and that
// a refused block leaves the head where it was.
func TestStoreRefusals(t *testing.T) {
	c := newSTChain(t, 4, 2)
	fs := vfs.NewMem()
	s := openSTStore(t, fs, c.genesis.ChainID)
	b1, d1 := c.next(t, 3)
	if err := s.ApplyBlock(b1, nil, d1); !errors.Is(err, ErrStoreNotInit) {
		t.Fatalf("apply before genesis: %v", err)
	}
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	b2, d2 := c.next(t, 3)
	if err := s.ApplyBlock(b2, nil, d2); !errors.Is(err, ErrStoreNotNext) {
		t.Fatalf("skipping a height: %v", err)
	}
	bad := *d1
	bad.Hash = LtHash{}
	if err := s.ApplyBlock(b1, nil, &bad); !errors.Is(err, ErrStoreStateMismatch) {
		t.Fatalf("wrong diff: %v", err)
	}
	if s.Head().Height != 0 {
		t.Fatalf("refused blocks moved the head to %d", s.Head().Height)
	}
	other := *c.genesis
	other.GenesisTime = other.GenesisTime.Add(time.Second)
	if err := s.InitGenesis(&other); !errors.Is(err, ErrStoreWrongChain) {
		t.Fatalf("init with another genesis: %v", err)
	}
	s.Close()
	if _, err := OpenStore("db", StoreOptions{ChainID: "another-chain", FS: fs}); !errors.Is(err, ErrStoreWrongChain) {
		t.Fatalf("open for another chain id: %v", err)
	}
	for _, size := range []int{MemTableBytesMin - 1, MemTableBytesMax + 1, -1} {
		if _, err := OpenStore("db", StoreOptions{ChainID: c.genesis.ChainID, FS: fs, MemTableBytes: size}); err == nil || !strings.Contains(err.Error(), "memtable") {
			t.Fatalf("memtable of %d bytes: %v", size, err)
		}
	}
	small, err := OpenStore("db", StoreOptions{ChainID: c.genesis.ChainID, FS: fs, MemTableBytes: MemTableBytesMin})
	if err != nil {
		t.Fatalf("memtable of %d bytes: %v", MemTableBytesMin, err)
	}
	small.Close()
}

// TestStoreAccountHistory checks AccountAt returns each account as it was
// after every height, against the mirror's snapshots.
func TestStoreAccountHistory(t *testing.T) {
	c := newSTChain(t, 5, 3)
	s := openSTStore(t, vfs.NewMem(), c.genesis.ChainID)
	defer s.Close()
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	snapshots := []map[crypto.Address]Account{c.mem.Accounts()}
	for h := 1; h <= 8; h++ {
		b, d := c.next(t, 4)
		if err := s.ApplyBlock(b, nil, d); err != nil {
			t.Fatal(err)
		}
		snapshots = append(snapshots, c.mem.Accounts())
	}
	for h, snap := range snapshots {
		for _, k := range c.keys {
			addr := k.Public().Address()
			got, err := s.AccountAt(addr, uint64(h))
			if err != nil || got != snap[addr] {
				t.Fatalf("account %s at %d: got %+v, want %+v (%v)", addr, h, got, snap[addr], err)
			}
		}
	}
	if _, err := s.AccountAt(c.keys[0].Public().Address(), 9); !errors.Is(err, ErrStoreNotFound) {
		t.Fatalf("height above head: %v", err)
	}
}

// TestSigCacheSkipsOnlyKnownSignatures checks that a cached hash skips the
// signature check, that a tx with the same fields but a corrupted signature
// (another hash) is still caught, and that the cache stays bounded.
func TestSigCacheSkipsOnlyKnownSignatures(t *testing.T) {
	c := newSTChain(t, 2, 9)
	tx := &Tx{ChainID: c.genesis.ChainID, To: c.keys[1].Public().Address(), Amount: 1}
	tx.Sign(c.keys[0])
	cache := NewSigCache(2)
	if _, err := CheckTxsCached(c.genesis.ChainID, []*Tx{tx}, cache); err != nil || !cache.Contains(tx.Hash()) {
		t.Fatalf("valid tx: err %v, cached %v", err, cache.Contains(tx.Hash()))
	}
	bad := *tx
	bad.Signature[5] ^= 1
	if bad, err := CheckTxsCached(c.genesis.ChainID, []*Tx{tx, &bad}, cache); !errors.Is(err, ErrTxBadSignature) || bad != 1 {
		t.Fatalf("corrupted copy: index %d err %v", bad, err)
	}
	for i := 0; i < 5; i++ {
		cache.Add(crypto.Sum256([]byte{byte(i)}))
	}
	if cache.Len() != 2 || cache.Contains(tx.Hash()) {
		t.Fatalf("cache holds %d, still has the first: %v", cache.Len(), cache.Contains(tx.Hash()))
	}
}

// BenchmarkStoreApplyBlock measures committing a 1,000-transfer block to
// Pebble on disk: one batch with the block, its tx index, accounts and
// their history, fsynced. Blocks are built outside the timer.
func BenchmarkStoreApplyBlock(b *testing.B) {
	c := newSTChain(b, 200, 11)
	s := openDiskStore(b, c)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		blk, diff := c.next(b, 1000)
		b.StartTimer()
		if err := s.ApplyBlock(blk, nil, diff); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "txs/s")
}

// TestSigCacheForget checks that forgotten hashes are gone, the others
// kept, and that the bound still holds as the ring passes the slots of
// forgotten hashes (and of one forgotten and added again).
func TestSigCacheForget(t *testing.T) {
	txs := make([]*Tx, 6)
	for i := range txs {
		txs[i] = &Tx{ChainID: "c", Nonce: uint64(i)}
	}
	cache := NewSigCache(4)
	for _, tx := range txs[:4] {
		cache.Add(tx.Hash())
	}
	cache.Forget([]*Tx{txs[0], nil, txs[2], txs[5]})
	if cache.Len() != 2 || cache.Contains(txs[0].Hash()) || cache.Contains(txs[2].Hash()) || !cache.Contains(txs[1].Hash()) || !cache.Contains(txs[3].Hash()) {
		t.Fatalf("after Forget: %d held, want txs 1 and 3", cache.Len())
	}
	cache.Add(txs[2].Hash()) // again, in a new slot
	for _, tx := range txs[4:] {
		cache.Add(tx.Hash())
	}
	// The ring was full (four slots, two of them stale), so the three
	// adds took slots 0 to 2: tx 0's (already gone), tx 1's, and tx 2's
	// old slot, which drops tx 2's re-add early (the documented cost).
	if cache.Contains(txs[1].Hash()) || cache.Contains(txs[2].Hash()) || !cache.Contains(txs[3].Hash()) ||
		!cache.Contains(txs[4].Hash()) || !cache.Contains(txs[5].Hash()) {
		t.Fatal("the ring did not evict in insertion order")
	}
	for i := range 100 {
		cache.Add(crypto.Sum256([]byte{byte(i), 1}))
		if cache.Len() > 4 {
			t.Fatalf("%d held, bound 4", cache.Len())
		}
	}
}

// TestValidSendersCachesOnlyValidKeys checks the sender-key cache: a valid
// key is remembered, a small-order key is refused every time and never
// remembered.
func TestValidSendersCachesOnlyValidKeys(t *testing.T) {
	c := newSTChain(t, 1, 12)
	good := c.keys[0].Public()
	if err := validateSender(good); err != nil || !validSenders.contains(good) {
		t.Fatalf("valid key: %v, cached %v", err, validSenders.contains(good))
	}
	var identity crypto.PublicKey
	identity[0] = 1 // the identity point: small order
	for i := 0; i < 2; i++ {
		if err := validateSender(identity); !errors.Is(err, crypto.ErrKeySmallOrder) {
			t.Fatalf("small-order key, try %d: %v", i, err)
		}
	}
	if validSenders.contains(identity) {
		t.Fatal("an invalid key was cached")
	}
}

// TestStoreTablesNeverShareAFile checks that every sstable Pebble writes,
// by a flush or a compaction, holds keys of one table only (tableSpans): a
// file spanning the account history and the newest blocks would overlap
// every older block file below it, and each compaction would rewrite the
// whole chain.
func TestStoreTablesNeverShareAFile(t *testing.T) {
	c := newSTChain(t, 16, 9)
	s := openSTStore(t, vfs.NewMem(), c.genesis.ChainID)
	defer s.Close()
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	check := func(stage string) (files int) {
		t.Helper()
		levels, err := s.db.SSTables()
		if err != nil {
			t.Fatal(err)
		}
		for level, tables := range levels {
			for _, tbl := range tables {
				lo, hi := tbl.Smallest.UserKey, tbl.Largest.UserKey
				if lo[0] != hi[0] {
					t.Fatalf("%s: L%d file %s holds keys of tables %q to %q", stage, level, tbl.FileNum, lo[0], hi[0])
				}
				files++
			}
		}
		return files
	}
	for round := 0; round < 3; round++ {
		for h := 0; h < 4; h++ {
			b, d := c.next(t, 8)
			cert := &CommitCertificate{Height: b.Header.Height, BlockHash: b.Hash(), Signatures: []CommitSignature{{Validator: 0}}}
			if err := s.Commit([][]byte{[]byte("record")}, []BlockWrite{{Block: b, Certificate: cert, Diff: d}}, Synced); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("flush %d", round))
	}
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	// Every table written lands in a file of its own: history, block,
	// certificate, block hash, meta, tx and log.
	if files := check("compaction"); files < 7 {
		t.Fatalf("%d files after a full compaction, want one or more per table (7)", files)
	}
}

// TestStoreInitGenesisRefusesDamagedGenesisHash: a node calls InitGenesis
// on every start, so a damaged or missing genesis-hash record must be
// reported as corruption, not panic the node or read as "not found".
// The test damages the record in a store and calls InitGenesis again.
func TestStoreInitGenesisRefusesDamagedGenesisHash(t *testing.T) {
	c := newSTChain(t, 2, 5)
	for _, damaged := range [][]byte{{1, 2, 3}, make([]byte, crypto.HashBytes-1), nil} {
		s := openSTStore(t, vfs.NewMem(), c.genesis.ChainID)
		if err := s.InitGenesis(c.genesis); err != nil {
			t.Fatal(err)
		}
		var err error
		if damaged == nil {
			err = s.db.Delete(keyGenesisHash, nil)
		} else {
			err = s.db.Set(keyGenesisHash, damaged, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("genesis hash record %x: InitGenesis panicked: %v", damaged, r)
				}
			}()
			if err := s.InitGenesis(c.genesis); !errors.Is(err, ErrStoreCorrupt) {
				t.Fatalf("genesis hash record %x: InitGenesis: %v, want ErrStoreCorrupt", damaged, err)
			}
		}()
		s.Close()
	}
}
