package ledger

import (
	"hash/maphash"
	"sync"

	"github.com/synod-chain/synod/crypto"
)

// Sizing of the account existence filter.
const (
	// accountFilterBitsPerKey and accountFilterProbes give a false-positive
	// rate of about 0.03% per full part (measured: TestAccountFilterFalsePositives).
	// A false positive costs a Pebble read of a missing account, and
	// under load that read is far dearer than its share suggests: with
	// 10 bits a key (about 1% per part) the reads of fresh recipients that
	// slipped through took 3% of a node's CPU at 6,000 tx/s, about 50 reads
	// a second at some 200 µs each (an iterator over every level, on a
	// machine whose caches the other nodes keep cold).
	accountFilterBitsPerKey = 20
	accountFilterProbes     = 7
	// accountFilterMinKeys is the capacity of the first part.
	accountFilterMinKeys = 1 << 16
	// bloomBlockBits is the size of a block: one 64-byte cache line, so a
	// probe touches one line of memory wherever its bits fall.
	bloomBlockBits = 512
)

// accountFilter is an in-memory Bloom filter of every address the store
// holds an account for. A transfer to a new address is the common case
// under load (every payment to a fresh wallet), and without the filter
// each one costs a Pebble lookup of a missing key, which searches the
// memtables and every level's index; with it, the store answers "empty
// account" in a hash and one cache line. A false positive only costs that
// lookup.
//
// It is a blocked Bloom filter: an address's hash picks one 512-bit block
// and sets or tests all of its bits inside it. That gives up a little
// accuracy per bit against a classic Bloom filter (whose probes each land
// on a different line of a multi-megabyte array) for one memory access
// per probe instead of seven.
//
// It grows as a scalable Bloom filter: a full part is kept and a new one
// of twice the capacity takes the additions, so it never needs the
// addresses again. Probes use a per-process random seed, so a sender
// cannot choose recipient addresses that all collide.
type accountFilter struct {
	seed  maphash.Seed
	mu    sync.RWMutex
	parts []*bloomPart
}

type bloomPart struct {
	blocks   [][bloomBlockBits / 64]uint64
	keys     int
	capacity int
}

func newBloomPart(capacity int) *bloomPart {
	n := (capacity*accountFilterBitsPerKey + bloomBlockBits - 1) / bloomBlockBits
	return &bloomPart{blocks: make([][bloomBlockBits / 64]uint64, n), capacity: capacity}
}

func newAccountFilter(expected int) *accountFilter {
	return &accountFilter{seed: maphash.MakeSeed(), parts: []*bloomPart{newBloomPart(max(2*expected, accountFilterMinKeys))}}
}

// probe is an address's hash: its high half picks the block in each part,
// and a mix of all of it gives the bit positions inside the block, 9 bits
// each (7 probes use 63 bits).
type probe struct{ block, bits uint64 }

func (f *accountFilter) probe(addr crypto.Address) probe {
	h := maphash.Bytes(f.seed, addr[:])
	return probe{block: h >> 32, bits: mix64(h)}
}

// mix64 is the finaliser of SplitMix64: every output bit depends on every
// input bit, so the positions inside a block are independent of the bits
// that chose the block.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// block returns pr's block: the high 32 bits of the hash scaled to the
// number of blocks (a multiply and shift rather than a division).
func (p *bloomPart) block(pr probe) *[bloomBlockBits / 64]uint64 {
	return &p.blocks[pr.block*uint64(len(p.blocks))>>32]
}

func (p *bloomPart) has(pr probe) bool {
	b := p.block(pr)
	bits := pr.bits
	for range accountFilterProbes {
		i := bits % bloomBlockBits
		if b[i/64]&(1<<(i%64)) == 0 {
			return false
		}
		bits /= bloomBlockBits
	}
	return true
}

func (p *bloomPart) set(pr probe) {
	b := p.block(pr)
	bits := pr.bits
	for range accountFilterProbes {
		i := bits % bloomBlockBits
		b[i/64] |= 1 << (i % 64)
		bits /= bloomBlockBits
	}
}

// mayHold reports whether the store may hold an account at addr; false is
// certain.
func (f *accountFilter) mayHold(addr crypto.Address) bool {
	pr := f.probe(addr)
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, p := range f.parts {
		if p.has(pr) {
			return true
		}
	}
	return false
}

// add records addresses the store now holds accounts for.
func (f *accountFilter) add(addrs func(yield func(crypto.Address) bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr := range addrs {
		pr := f.probe(addr)
		last := f.parts[len(f.parts)-1]
		if last.has(pr) {
			continue // already in (or a false positive: harmless either way)
		}
		if last.keys >= last.capacity {
			last = newBloomPart(2 * last.capacity)
			f.parts = append(f.parts, last)
		}
		last.set(pr)
		last.keys++
	}
}
