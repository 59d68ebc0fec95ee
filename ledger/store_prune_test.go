package ledger

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
)

// countTable counts the keys of one table.
func countTable(t *testing.T, s *Store, table byte) int {
	t.Helper()
	iter, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{table}, UpperBound: []byte{table + 1}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ok := iter.First(); ok; ok = iter.Next() {
		n++
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStorePrunedKeepsCurrentState writes a chain into a pruned store, one
// block at a time and in batches whose blocks change the same accounts,
// and checks every account against the mirror: through the cache, and
// after a reopen with the cache off (so Pebble answers) and on (so the
// existence filter is rebuilt from the account table). The head's state
// is readable at its height, earlier heights are refused, and the store
// holds one entry per account and no history.
func TestStorePrunedKeepsCurrentState(t *testing.T) {
	c := newSTChain(t, 16, 41)
	fs := vfs.NewMem()
	open := func(cache int) *Store {
		t.Helper()
		s, err := OpenStore("db", StoreOptions{ChainID: c.genesis.ChainID, FS: fs, PruneHistory: true, AccountCacheSize: cache})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open(0)
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	writes := stWrites(t, c, 14, 20)
	for _, w := range writes[:4] {
		if err := s.ApplyBlock(w.Block, w.Certificate, w.Diff); err != nil {
			t.Fatal(err)
		}
	}
	for _, part := range [][]BlockWrite{writes[4:10], writes[10:]} {
		if err := s.Commit([][]byte{[]byte("log")}, part, Synced); err != nil {
			t.Fatal(err)
		}
	}
	head := writes[len(writes)-1].Block.Height()
	check := func(s *Store) {
		t.Helper()
		if s.KeepsHistory() {
			t.Fatal("a pruned store says it keeps history")
		}
		if s.Head().Height != head || s.StateHash().Root() != c.mem.StateHash().Root() {
			t.Fatalf("head %d (want %d) or state hash differs", s.Head().Height, head)
		}
		want := c.mem.Accounts()
		for addr, acct := range want {
			if got, err := s.GetAccount(addr); err != nil || got != acct {
				t.Fatalf("account %s: %+v, want %+v (%v)", addr, got, acct, err)
			}
			if got, err := s.AccountAt(addr, head); err != nil || got != acct {
				t.Fatalf("account %s at the head: %+v, want %+v (%v)", addr, got, acct, err)
			}
			if _, err := s.AccountAt(addr, head-1); !errors.Is(err, ErrStoreHistoryPruned) {
				t.Fatalf("account %s below the head: %v", addr, err)
			}
			if _, err := s.AccountAt(addr, head+1); !errors.Is(err, ErrStoreNotFound) {
				t.Fatalf("account %s above the head: %v", addr, err)
			}
		}
		if got, err := s.GetAccount(crypto.Address{0xee, 0xee}); err != nil || got != (Account{}) {
			t.Fatalf("never-written account: %+v (%v)", got, err)
		}
		if n := countTable(t, s, tableAccount); n != len(want) {
			t.Fatalf("%d account entries for %d accounts", n, len(want))
		}
		if n := countTable(t, s, tableHistory); n != 0 {
			t.Fatalf("a pruned store holds %d history entries", n)
		}
	}
	check(s)
	for _, cache := range []int{-1, 0} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(cache)
		check(s)
	}
	s.Close()
}

// TestStoreHistoryStoreWritesNoAccountTable: a store that keeps history
// reads the current state from it and writes nothing to the pruned
// layout's table.
func TestStoreHistoryStoreWritesNoAccountTable(t *testing.T) {
	c := newSTChain(t, 8, 42)
	s := openSTStore(t, vfs.NewMem(), c.genesis.ChainID)
	defer s.Close()
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyBlocks(stWrites(t, c, 5, 10)); err != nil {
		t.Fatal(err)
	}
	if !s.KeepsHistory() {
		t.Fatal("a history store says it keeps none")
	}
	if n := countTable(t, s, tableAccount); n != 0 {
		t.Fatalf("a history store wrote %d account entries", n)
	}
	if n := countTable(t, s, tableHistory); n <= len(c.mem.Accounts()) {
		t.Fatalf("%d history entries for %d accounts over 5 blocks", n, len(c.mem.Accounts()))
	}
}

// TestStoreHistorySettingIsFixed: a store opens only with the history
// setting it was made with; a store from before the setting existed kept
// history; a store without a genesis yet opens either way.
func TestStoreHistorySettingIsFixed(t *testing.T) {
	c := newSTChain(t, 4, 43)
	opts := func(fs vfs.FS, prune bool) StoreOptions {
		return StoreOptions{ChainID: c.genesis.ChainID, FS: fs, PruneHistory: prune}
	}
	for _, prune := range []bool{false, true} {
		fs := vfs.NewMem()
		fresh, err := OpenStore("db", opts(fs, !prune))
		if err != nil {
			t.Fatalf("fresh store, prune %v: %v", !prune, err)
		}
		fresh.Close()
		s, err := OpenStore("db", opts(fs, prune))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.InitGenesis(c.genesis); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := OpenStore("db", opts(fs, !prune)); !errors.Is(err, ErrStoreHistoryMode) {
			t.Fatalf("made with prune %v, opened with %v: %v", prune, !prune, err)
		}
		s, err = OpenStore("db", opts(fs, prune))
		if err != nil {
			t.Fatalf("reopen with prune %v: %v", prune, err)
		}
		s.Close()
	}

	// A store written before the setting existed has no record of it.
	fs := vfs.NewMem()
	s, err := OpenStore("db", opts(fs, false))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Delete(keyHistory, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenStore("db", opts(fs, true)); !errors.Is(err, ErrStoreHistoryMode) {
		t.Fatalf("old store opened pruned: %v", err)
	}
	s, err = OpenStore("db", opts(fs, false))
	if err != nil {
		t.Fatalf("old store opened with history: %v", err)
	}
	s.Close()
}
