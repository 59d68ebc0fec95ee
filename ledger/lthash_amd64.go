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
