//go:build !purego

package ledger

import (
	"crypto/sha256"

	"golang.org/x/sys/cpu"
)

// hasAESNI: the CPU has the AES instructions aes256KeystreamZeroIV uses
// (the rest is SSE2, which every amd64 CPU has).
var hasAESNI = cpu.X86.HasAES

// aes256KeystreamZeroIV writes the first 2048 bytes of the AES-256-CTR
// keystream under key with a zero initial counter block (the standard
// library's cipher.NewCTR with a zero IV): the key schedule stays on the
// stack, and eight blocks are encrypted at a time. lthash_amd64.s.
//
//go:noescape
func aes256KeystreamZeroIV(key *[sha256.Size]byte, out *[LtHashBytes]byte)

// expandKey is expandKeyStd, with AES instructions where the CPU has them.
func expandKey(key *[sha256.Size]byte, out *[LtHashBytes]byte) {
	if hasAESNI {
		aes256KeystreamZeroIV(key, out)
		return
	}
	expandKeyStd(key, out)
}

// lanesAdd and lanesSub add or subtract the 16-bit lanes of x to or from
// acc's, eight lanes per SSE2 instruction (every amd64 CPU has SSE2).
// lthash_amd64.s.
//
//go:noescape
func lanesAdd(acc *[ltHashWords]uint64, x *[LtHashBytes]byte)

//go:noescape
func lanesSub(acc *[ltHashWords]uint64, x *[LtHashBytes]byte)

// mix adds an expanded leaf lane by lane, or with remove subtracts it.
func (h *LtHash) mix(x *[LtHashBytes]byte, remove bool) {
	if remove {
		lanesSub(&h.words, x)
		return
	}
	lanesAdd(&h.words, x)
}
