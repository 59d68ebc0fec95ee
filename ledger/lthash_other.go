//go:build !amd64 || purego

package ledger

import "crypto/sha256"

// expandKey is expandKeyStd: the assembly is amd64's alone.
func expandKey(key *[sha256.Size]byte, out *[LtHashBytes]byte) { expandKeyStd(key, out) }

// mix is mixGeneric.
func (h *LtHash) mix(x *[LtHashBytes]byte, remove bool) { h.mixGeneric(x, remove) }
