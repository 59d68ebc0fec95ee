package ledger

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/synod-chain/synod/crypto"
)

// ltHashLanes and the 16-bit lane width give LtHash16 of Bellare and
// Micciancio's lattice construction, as used by Facebook and Solana for
// incremental state hashing: about 200 bits of collision resistance
// against the lattice, capped at 128 by the SHA-256 in expandLeaf.
const (
	ltHashLanes = 1024
	// LtHashBytes is the size of the encoded accumulator.
	LtHashBytes = 2 * ltHashLanes
	// ltHashWords: four lanes travel in each 64-bit word.
	ltHashWords = ltHashLanes / 4
)

// LtHash is a homomorphic multiset hash of the account state: the state
// root changes in time proportional to the accounts a block touches, not
// to the size of the state. Adding a leaf adds its 2048-byte expansion
// (expandLeaf) lane by lane modulo 2^16; removing subtracts it. The order
// of additions does not matter, so the root is a function of the set of
// leaves alone.
//
// Lane j is bits 16(j mod 4) … 16(j mod 4)+15 of words[j/4], so the
// little-endian bytes of the words are the lanes' little-endian encoding,
// and one 64-bit add handles four lanes (addLanes).
type LtHash struct {
	words [ltHashWords]uint64
}

// Add puts a leaf into the multiset.
func (h *LtHash) Add(leaf []byte) {
	var x [LtHashBytes]byte
	expandLeaf(leaf, &x)
	h.mix(&x, false)
}

// Remove takes a leaf out of the multiset. Removing a leaf that was never
// added leaves a hash no real state has; callers remove only what they added.
func (h *LtHash) Remove(leaf []byte) {
	var x [LtHashBytes]byte
	expandLeaf(leaf, &x)
	h.mix(&x, true)
}

// mixGeneric adds an expanded leaf lane by lane, or with remove subtracts
// it: mix without vector instructions. The branch sits outside the loops
// and each word's bytes are sliced with constant bounds, so the loops
// carry no checks: this runs four times per transfer on every node.
func (h *LtHash) mixGeneric(x *[LtHashBytes]byte, remove bool) {
	b := x[:]
	if remove {
		for i := range h.words {
			h.words[i] = subLanes(h.words[i], binary.LittleEndian.Uint64(b[8*i:8*i+8]))
		}
		return
	}
	for i := range h.words {
		h.words[i] = addLanes(h.words[i], binary.LittleEndian.Uint64(b[8*i:8*i+8]))
	}
}

// addHash adds another accumulator lane by lane: the hash of the union of
// two multisets.
func (h *LtHash) addHash(o *LtHash) {
	for i := range h.words {
		h.words[i] = addLanes(h.words[i], o.words[i])
	}
}

// laneHigh is the top bit of each of four 16-bit lanes in a word.
const laneHigh = 0x8000_8000_8000_8000

// addLanes adds four 16-bit lanes at once, each modulo 2^16: the low 15
// bits of every lane add without reaching the next lane, and each top bit
// is the xor of the two top bits with the carry out of bit 14.
func addLanes(a, b uint64) uint64 {
	return ((a &^ laneHigh) + (b &^ laneHigh)) ^ ((a ^ b) & laneHigh)
}

// subLanes subtracts four 16-bit lanes at once, each modulo 2^16: with
// every top bit of a set first, no lane borrows from the next one, and
// the top bits are fixed up as in addLanes.
func subLanes(a, b uint64) uint64 {
	return ((a | laneHigh) - (b &^ laneHigh)) ^ ((a ^ ^b) & laneHigh)
}

// leafDomain separates state-leaf hashing from every other use of SHA-256.
const leafDomain = "synod/state-leaf/v2"

// expandLeaf maps a leaf to 2048 pseudorandom bytes: SHA-256 compresses
// the leaf, behind a domain tag, to a 256-bit key, and AES-256 in counter
// mode under that key expands it (hash, then a PRF as the expander). The
// digest bounds the collision resistance at 128 bits. With AES-NI this is
// about four times faster than the SHAKE-128 it replaced, and state
// hashing expands four leaves per transfer on every node.
func expandLeaf(leaf []byte, out *[LtHashBytes]byte) {
	d := sha256.New()
	d.Write([]byte(leafDomain))
	d.Write(leaf)
	var key [sha256.Size]byte
	d.Sum(key[:0])
	expandKey(&key, out)
}

// expandKeyStd is expandLeaf after the digest: the AES-256-CTR keystream
// under key, counters from zero, through the standard library. Where the
// CPU has AES instructions, expandKey computes the same bytes without the
// standard API's two allocations and copy of the key schedule per leaf
// (lthash_amd64.go); they were over half the bytes allocated in catch-up.
func expandKeyStd(key *[sha256.Size]byte, out *[LtHashBytes]byte) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(fmt.Sprintf("lthash: aes-256 key refused: %v", err)) // a 32-byte key never is
	}
	var iv [aes.BlockSize]byte
	clear(out[:])
	cipher.NewCTR(block, iv[:]).XORKeyStream(out[:], out[:])
}

// addAccount adds (or, with remove, removes) the leaf of addr's account a,
// which is what the state commits to for a non-empty account: the address
// then EncodeAccount(a), expanded as expandLeaf does, with the digest's
// input built on the stack. The state hash expands four leaves per transfer on
// every node, and the allocations of the general path cost as much again
// in the collector. x is scratch space for the expansion, which would
// otherwise escape to the heap (through the cipher's interface) on every
// call.
func (h *LtHash) addAccount(addr crypto.Address, a Account, remove bool, x *[LtHashBytes]byte) {
	var in [len(leafDomain) + crypto.AddressBytes + AccountBytes]byte
	n := copy(in[:], leafDomain)
	n += copy(in[n:], addr[:])
	binary.BigEndian.PutUint64(in[n:], a.Balance)
	binary.BigEndian.PutUint64(in[n+8:], a.Nonce)
	key := sha256.Sum256(in[:])
	expandKey(&key, x)
	h.mix(x, remove)
}

// Root is the 32-byte state root: SHA-256 of the accumulator.
func (h LtHash) Root() crypto.Hash { return crypto.Sum256(h.Encode()) }

// Encode returns the accumulator's 2048 bytes: the lanes in order, each
// little-endian.
func (h LtHash) Encode() []byte {
	b := make([]byte, LtHashBytes)
	for i, w := range h.words {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return b
}

// DecodeLtHash reads an accumulator written by Encode.
func DecodeLtHash(b []byte) (LtHash, error) {
	var h LtHash
	if len(b) != LtHashBytes {
		return h, fmt.Errorf("decode state hash: %w: %d bytes, want %d", ErrMalformed, len(b), LtHashBytes)
	}
	for i := range h.words {
		h.words[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return h, nil
}
