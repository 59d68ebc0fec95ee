package ledger

import (
	"sync"

	"github.com/synod-chain/synod/crypto"
)

// DefaultAccountCacheSize is how many accounts a Store keeps in memory
// unless StoreOptions says otherwise: about 60 bytes each with the map's
// overhead, so 256 Ki accounts cost some 16 MiB.
const DefaultAccountCacheSize = 1 << 18

// accountCache holds committed accounts in memory, so the mempool's
// admission checks and block execution do not each go to Pebble (a Get
// that reaches an sstable costs tens of microseconds, a map hit well under
// one). It is write-through: ApplyBlock refreshes every account a block
// changed after the block's batch is durable.
//
// A reader that misses reads Pebble and then fills the cache, and a block
// may commit in between: its value could be older than the one the block
// wrote. gen, bumped by every write, tells the reader its value may be
// stale, and it then leaves the cache alone.
type accountCache struct {
	mu   sync.Mutex
	gen  uint64
	max  int
	accs map[crypto.Address]Account
}

func newAccountCache(size int) *accountCache {
	if size <= 0 {
		return nil
	}
	return &accountCache{max: size, accs: make(map[crypto.Address]Account, min(size, 1<<14))}
}

// get returns the cached account and the generation to hand back to fill
// on a miss.
func (c *accountCache) get(addr crypto.Address) (Account, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.accs[addr]
	return a, ok, c.gen
}

// fill caches a value read from Pebble at generation gen, unless a write
// came in since.
func (c *accountCache) fill(addr crypto.Address, a Account, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.putLocked(addr, a)
	}
}

// write records the accounts a durable block changed.
func (c *accountCache) write(accounts map[crypto.Address]Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for addr, a := range accounts {
		c.putLocked(addr, a)
	}
}

// putLocked stores a, evicting an arbitrary entry when full (map iteration
// starts at a random place, so eviction is random: no bookkeeping per hit,
// and no access pattern makes it degenerate).
func (c *accountCache) putLocked(addr crypto.Address, a Account) {
	// Below the bound one probe (the assignment) does: most puts are of
	// fresh recipients, each a likely cache miss in a large map.
	if len(c.accs) >= c.max {
		if _, ok := c.accs[addr]; !ok {
			for victim := range c.accs {
				delete(c.accs, victim)
				break
			}
		}
	}
	c.accs[addr] = a
}
