package crypto

import (
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// expandedKeysMax bounds the expanded keys kept: each is about 1.5 KiB, so
// the cache costs at most some 12 MiB.
const expandedKeysMax = 8192

// expandedKeys remembers senders' public keys in the decompressed,
// precomputed form the batch verifier works with. Decompressing a key
// costs more than the rest of its share of a batch check, and a busy
// account signs many transactions, so the cache makes a batch about a
// third cheaper per signature (BenchmarkBatchVerify). Only keys that
// decompress are kept; a key's expansion says nothing about any
// signature, so a cached key never lets a bad signature through.
var expandedKeys = newExpandedKeyCache(expandedKeysMax)

type expandedKeyCache struct {
	mu   sync.Mutex
	max  int
	keys map[PublicKey]*voi.ExpandedPublicKey
}

func newExpandedKeyCache(max int) *expandedKeyCache {
	return &expandedKeyCache{max: max, keys: make(map[PublicKey]*voi.ExpandedPublicKey)}
}

// get returns pk expanded, from the cache or freshly (and then cached), or
// nil if pk is not a point. The result is shared and must not be modified;
// the verifier only reads it.
func (c *expandedKeyCache) get(pk PublicKey) *voi.ExpandedPublicKey {
	c.mu.Lock()
	e, ok := c.keys[pk]
	c.mu.Unlock()
	if ok {
		return e
	}
	e, err := voi.NewExpandedPublicKey(pk[:])
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.keys) >= c.max {
		for victim := range c.keys { // map order is random: random eviction
			delete(c.keys, victim)
			break
		}
	}
	c.keys[pk] = e
	return e
}
