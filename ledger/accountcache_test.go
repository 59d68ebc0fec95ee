package ledger

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
)

// TestAccountCacheRefusesStaleFill: a value read before a write must not
// be cached after it, or the cache would hold an old balance for good.
func TestAccountCacheRefusesStaleFill(t *testing.T) {
	c := newAccountCache(8)
	addr := crypto.Address{1}
	_, ok, gen := c.get(addr)
	if ok {
		t.Fatal("empty cache hit")
	}
	c.write(map[crypto.Address]Account{addr: {Balance: 2, Nonce: 1}})
	c.fill(addr, Account{Balance: 1}, gen) // read before the write: stale
	if a, ok, _ := c.get(addr); !ok || a.Balance != 2 {
		t.Fatalf("cache holds %+v (hit %v), want the written balance 2", a, ok)
	}
	other := crypto.Address{2}
	_, _, gen = c.get(other)
	c.write(map[crypto.Address]Account{addr: {Balance: 3}})
	c.fill(other, Account{Balance: 9}, gen)
	if _, ok, _ := c.get(other); ok {
		t.Fatal("a fill that raced a write was cached")
	}
}

// TestAccountCacheBounded: the cache never holds more than its size.
func TestAccountCacheBounded(t *testing.T) {
	c := newAccountCache(16)
	for i := range 1000 {
		_, _, gen := c.get(crypto.Address{byte(i), byte(i >> 8)})
		c.fill(crypto.Address{byte(i), byte(i >> 8)}, Account{Balance: uint64(i)}, gen)
		if i%7 == 0 {
			c.write(map[crypto.Address]Account{{9, byte(i)}: {Nonce: 1}})
		}
		if n := len(c.accs); n > 16 {
			t.Fatalf("cache holds %d accounts, size 16", n)
		}
	}
}

// TestAccountCacheFullUpdateEvictsNothing: at its bound, a write to an
// account already cached replaces it in place and evicts no other.
func TestAccountCacheFullUpdateEvictsNothing(t *testing.T) {
	c := newAccountCache(8)
	accounts := map[crypto.Address]Account{}
	for i := range 8 {
		accounts[crypto.Address{byte(i)}] = Account{Balance: uint64(i)}
	}
	c.write(accounts)
	c.write(map[crypto.Address]Account{{3}: {Balance: 33}})
	for addr, want := range accounts {
		if addr == (crypto.Address{3}) {
			want = Account{Balance: 33}
		}
		if got, ok, _ := c.get(addr); !ok || got != want {
			t.Fatalf("account %x: %+v, cached %v; want %+v", addr[0], got, ok, want)
		}
	}
}

// TestStoreAccountsMatchPebbleUnderConcurrentCommits reads accounts on
// several goroutines while blocks commit, with a cache far smaller than
// the account set so fills, evictions and writes interleave; afterwards
// every cached account equals what Pebble holds.
func TestStoreAccountsMatchPebbleUnderConcurrentCommits(t *testing.T) {
	c := newSTChain(t, 64, 7)
	s, err := OpenStore("db", StoreOptions{ChainID: c.genesis.ChainID, FS: vfs.NewMem(), AccountCacheSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := r; !stop.Load(); i++ {
				if _, err := s.GetAccount(c.keys[i%len(c.keys)].Public().Address()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 40 {
		b, diff := c.next(t, 20)
		if err := s.ApplyBlock(b, nil, diff); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	readers.Wait()
	for addr, want := range c.mem.Accounts() {
		got, err := s.GetAccount(addr)
		if err != nil || got != want {
			t.Fatalf("account %s: cached/read %+v, want %+v (%v)", addr, got, want, err)
		}
		disk, err := s.readAccount(addr)
		if err != nil || disk != want {
			t.Fatalf("account %s: pebble %+v, want %+v (%v)", addr, disk, want, err)
		}
	}
	if n := len(s.accounts.accs); n > 16 {
		t.Fatalf("cache holds %d accounts, size 16", n)
	}
}
