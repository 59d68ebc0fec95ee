package ledger

import (
	"crypto/sha3"
	"encoding/binary"
	"fmt"

	"github.com/synod-chain/synod/crypto"
)

// ltHashLanes and the 16-bit lane width give LtHash16 of Bellare and
// Micciancio's lattice construction, as used by Facebook and Solana for
// incremental state hashing: about 200 bits of collision resistance.
const (
	ltHashLanes = 1024
	// LtHashBytes is the size of the encoded accumulator.
	LtHashBytes = 2 * ltHashLanes
)

// LtHash is a homomorphic multiset hash of the account state: the state
// root changes in time proportional to the accounts a block touches, not
// to the size of the state. Adding a leaf adds its SHAKE-128 expansion lane
// by lane modulo 2^16; removing subtracts it. The order of additions does
// not matter, so the root is a function of the set of leaves alone.
type LtHash struct {
	lanes [ltHashLanes]uint16
}

// Add puts a leaf into the multiset.
func (h *LtHash) Add(leaf []byte) {
	var x [LtHashBytes]byte
	expandLeaf(leaf, &x)
	for i := range h.lanes {
		h.lanes[i] += binary.LittleEndian.Uint16(x[2*i:])
	}
}

// Remove takes a leaf out of the multiset. Removing a leaf that was never
// added leaves a hash no real state has; callers remove only what they added.
func (h *LtHash) Remove(leaf []byte) {
	var x [LtHashBytes]byte
	expandLeaf(leaf, &x)
	for i := range h.lanes {
		h.lanes[i] -= binary.LittleEndian.Uint16(x[2*i:])
	}
}

// addHash adds another accumulator lane by lane: the hash of the union of
// two multisets.
func (h *LtHash) addHash(o *LtHash) {
	for i := range h.lanes {
		h.lanes[i] += o.lanes[i]
	}
}

func expandLeaf(leaf []byte, out *[LtHashBytes]byte) {
	xof := sha3.NewSHAKE128()
	xof.Write([]byte("synod/state-leaf/v1"))
	xof.Write(leaf)
	xof.Read(out[:])
}

// Root is the 32-byte state root: SHA-256 of the accumulator.
func (h LtHash) Root() crypto.Hash { return crypto.Sum256(h.Encode()) }

// Encode returns the accumulator's 2048 bytes.
func (h LtHash) Encode() []byte {
	b := make([]byte, LtHashBytes)
	for i, v := range h.lanes {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

// DecodeLtHash reads an accumulator written by Encode.
func DecodeLtHash(b []byte) (LtHash, error) {
	var h LtHash
	if len(b) != LtHashBytes {
		return h, fmt.Errorf("decode state hash: %w: %d bytes, want %d", ErrMalformed, len(b), LtHashBytes)
	}
	for i := range h.lanes {
		h.lanes[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return h, nil
}
