package ledger

import (
	"sync"

	"github.com/synod-chain/synod/crypto"
)

// SigCache remembers the hashes of transactions whose signatures verified,
// so a node checks each tx's signature once — at mempool admission — and
// not again when the tx arrives inside a block. A tx hash covers the whole
// signed encoding, signature included, so a hit means these exact bytes
// verified. The cache is bounded (oldest entries go first) and safe for
// concurrent use.
type SigCache struct {
	mu    sync.Mutex
	max   int
	set   map[crypto.Hash]struct{}
	order []crypto.Hash // ring buffer of insertion order
	next  int
}

// NewSigCache returns a cache holding up to max hashes.
func NewSigCache(max int) *SigCache {
	if max < 1 {
		panic("ledger: SigCache size must be positive")
	}
	return &SigCache{max: max, set: make(map[crypto.Hash]struct{}, max), order: make([]crypto.Hash, 0, max)}
}

// Add records that the tx with hash h has a valid signature.
func (c *SigCache) Add(h crypto.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.set[h]; ok {
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, h)
	} else {
		delete(c.set, c.order[c.next])
		c.order[c.next] = h
		c.next = (c.next + 1) % c.max
	}
	c.set[h] = struct{}{}
}

// Contains reports whether h was recorded (and not yet evicted).
func (c *SigCache) Contains(h crypto.Hash) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.set[h]
	return ok
}

// Len is the number of hashes held.
func (c *SigCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.set)
}
