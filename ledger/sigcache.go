package ledger

import (
	"sync"

	"github.com/synod-chain/synod/crypto"
)

// SigCache remembers the hashes of transactions whose signatures verified,
// so a node checks each tx's signature once — at mempool admission — and
// not again when the tx arrives inside a block. A tx hash covers the whole
// signed encoding, signature included, so a hit means these exact bytes
// verified.
//
// It also remembers blocks whose txs a verified commit certificate vouches
// for (VouchBlock): a quorum certificate proves that honest validators
// checked every signature in the block. Block sync records one block hash
// where it would otherwise record each of its txs, and validation then
// skips the lookups too; in catch-up the per-tx records cost about as much
// as executing the transfers. A block hash covers the tx root, and
// validation checks the txs against it before it asks.
//
// Both sets are bounded (oldest entries go first), so a forgotten entry
// only costs a signature check; the cache is safe for concurrent use.
// The mempool also forgets the hashes of committed txs (Forget): no block
// needs them checked again, and a set that holds only the txs still on
// their way to a block stays small enough for the processor's caches.
// Every tx passes through the set twice (admission, then its block's
// validation), and a set grown to its bound was a few megabytes in which
// nearly every lookup missed the cache: 2-5% of a node's CPU under load.
type SigCache struct {
	set    boundedSet[crypto.Hash]
	blocks boundedSet[crypto.Hash]
}

// vouchedBlocksMax bounds the vouched block hashes: enough for block
// sync's blocks in flight, which are bounded by their txs (node's
// syncAheadTxsMax), unless the blocks hold a handful of txs each, and then
// forgetting some costs only those few checks.
const vouchedBlocksMax = 4096

// NewSigCache returns a cache holding up to max tx hashes.
func NewSigCache(max int) *SigCache {
	return &SigCache{set: newBoundedSet[crypto.Hash](max), blocks: newBoundedSet[crypto.Hash](min(max, vouchedBlocksMax))}
}

// Add records that the tx with hash h has a valid signature.
func (c *SigCache) Add(h crypto.Hash) { c.set.add(h) }

// Contains reports whether h was recorded (and not yet evicted).
func (c *SigCache) Contains(h crypto.Hash) bool { return c.set.contains(h) }

// Forget drops the hashes of committed txs. A block that holds one of
// them again is invalid anyway (its nonce is spent), and checking its
// signature is all that forgetting costs.
func (c *SigCache) Forget(txs []*Tx) {
	c.set.mu.Lock()
	defer c.set.mu.Unlock()
	for _, tx := range txs {
		if tx != nil {
			delete(c.set.set, tx.Hash())
		}
	}
}

// VouchBlock records that a verified commit certificate vouches for the
// signatures of every tx in the block with hash h.
func (c *SigCache) VouchBlock(h crypto.Hash) { c.blocks.add(h) }

// Vouched reports whether the block with hash h was vouched for; a nil
// cache vouches for nothing.
func (c *SigCache) Vouched(h crypto.Hash) bool { return c != nil && c.blocks.contains(h) }

// Len is the number of hashes held.
func (c *SigCache) Len() int { return c.set.len() }

// boundedSet is a set that forgets its oldest member past max; safe for
// concurrent use. Its storage grows with use rather than being made at
// full size: a set never added to (a certificate cache's vouched blocks)
// costs nothing, and one whose members are also deleted (SigCache.Forget)
// stays the size of what it holds at its busiest, which a Go map never
// gives back.
//
// A member deleted early keeps its slot in order; when the ring comes
// round to that slot it deletes the key again, which at worst drops a
// later re-add of it early: a set only ever loses members sooner.
type boundedSet[K comparable] struct {
	mu    sync.Mutex
	max   int
	set   map[K]struct{}
	order []K // ring buffer of insertion order
	next  int
}

func newBoundedSet[K comparable](max int) boundedSet[K] {
	if max < 1 {
		panic("ledger: bounded set size must be positive")
	}
	return boundedSet[K]{max: max}
}

func (b *boundedSet[K]) add(k K) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.set == nil {
		b.set = make(map[K]struct{})
	}
	if _, ok := b.set[k]; ok {
		return
	}
	if len(b.order) < b.max {
		b.order = append(b.order, k)
	} else {
		delete(b.set, b.order[b.next])
		b.order[b.next] = k
		b.next = (b.next + 1) % b.max
	}
	b.set[k] = struct{}{}
}

func (b *boundedSet[K]) contains(k K) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.set[k]
	return ok
}

func (b *boundedSet[K]) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.set)
}

// validSenders remembers sender keys that passed crypto.ValidatePublicKey:
// the check decompresses a curve point (about as costly as a quarter of a
// signature check), and a chain's txs come from a much smaller set of
// accounts than there are txs. Validity of a key never changes, so a hit
// is always right.
var validSenders = newBoundedSet[crypto.PublicKey](validSendersMax)

// validSendersMax bounds the remembered keys (32 bytes each, plus the map).
const validSendersMax = 1 << 16

// validateSender is crypto.ValidatePublicKey with validSenders in front.
func validateSender(pk crypto.PublicKey) error {
	if validSenders.contains(pk) {
		return nil
	}
	if err := crypto.ValidatePublicKey(pk); err != nil {
		return err
	}
	validSenders.add(pk)
	return nil
}
