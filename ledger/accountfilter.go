package ledger

import (
	"hash/maphash"
	"sync"

	"github.com/synod-chain/synod/crypto"
)

// Sizing of the account existence filter.
const (
	// accountFilterBitsPerKey and accountFilterProbes give a false-positive
	// rate of about 1% per part.
	accountFilterBitsPerKey = 10
	accountFilterProbes     = 7
	// accountFilterMinKeys is the capacity of the first part.
	accountFilterMinKeys = 1 << 16
)

// accountFilter is an in-memory Bloom filter of every address the store
// holds an account for. A transfer to a new address is the common case
// under load (every payment to a fresh wallet), and without the filter
// each one costs a Pebble lookup of a missing key, which searches the
// memtables and every level's filters; with it, the store answers "empty
// account" in a few hashes. A false positive only costs that lookup.
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
	bits     []uint64
	keys     int
	capacity int
}

func newBloomPart(capacity int) *bloomPart {
	words := (capacity*accountFilterBitsPerKey + 63) / 64
	return &bloomPart{bits: make([]uint64, words), capacity: capacity}
}

func newAccountFilter(expected int) *accountFilter {
	return &accountFilter{seed: maphash.MakeSeed(), parts: []*bloomPart{newBloomPart(max(2*expected, accountFilterMinKeys))}}
}

// probes returns the two hashes the probe positions derive from.
func (f *accountFilter) probes(addr crypto.Address) (h1, h2 uint64) {
	h := maphash.Bytes(f.seed, addr[:])
	return h, h>>32 | h<<32 | 1
}

func (p *bloomPart) has(h1, h2 uint64) bool {
	m := uint64(len(p.bits)) * 64
	for i := range uint64(accountFilterProbes) {
		b := (h1 + i*h2) % m
		if p.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

func (p *bloomPart) set(h1, h2 uint64) {
	m := uint64(len(p.bits)) * 64
	for i := range uint64(accountFilterProbes) {
		b := (h1 + i*h2) % m
		p.bits[b/64] |= 1 << (b % 64)
	}
}

// mayHold reports whether the store may hold an account at addr; false is
// certain.
func (f *accountFilter) mayHold(addr crypto.Address) bool {
	h1, h2 := f.probes(addr)
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, p := range f.parts {
		if p.has(h1, h2) {
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
		h1, h2 := f.probes(addr)
		last := f.parts[len(f.parts)-1]
		if last.has(h1, h2) {
			continue // already in (or a false positive: harmless either way)
		}
		if last.keys >= last.capacity {
			last = newBloomPart(2 * last.capacity)
			f.parts = append(f.parts, last)
		}
		last.set(h1, h2)
		last.keys++
	}
}
