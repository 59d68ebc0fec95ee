package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"

	"github.com/synod-chain/synod/crypto"
)

// TestLanesArithmetic checks the four-lanes-per-word add and subtract
// against plain 16-bit arithmetic, carries and borrows at every lane edge
// included.
func TestLanesArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	edge := []uint16{0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff}
	lane := func() uint16 {
		if rng.IntN(2) == 0 {
			return edge[rng.IntN(len(edge))]
		}
		return uint16(rng.Uint32())
	}
	for range 200_000 {
		var a, b [4]uint16
		for j := range 4 {
			a[j], b[j] = lane(), lane()
		}
		wa, wb := pack(a), pack(b)
		for j, got := range unpack(addLanes(wa, wb)) {
			if want := a[j] + b[j]; got != want {
				t.Fatalf("add lane %d: %#x + %#x = %#x, want %#x", j, a[j], b[j], got, want)
			}
		}
		for j, got := range unpack(subLanes(wa, wb)) {
			if want := a[j] - b[j]; got != want {
				t.Fatalf("sub lane %d: %#x - %#x = %#x, want %#x", j, a[j], b[j], got, want)
			}
		}
	}
}

func pack(l [4]uint16) uint64 {
	var b [8]byte
	for j, v := range l {
		binary.LittleEndian.PutUint16(b[2*j:], v)
	}
	return binary.LittleEndian.Uint64(b[:])
}

func unpack(w uint64) (l [4]uint16) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], w)
	for j := range l {
		l[j] = binary.LittleEndian.Uint16(b[2*j:])
	}
	return l
}

// TestLtHashAddRemoveInverse: removing what was added restores the hash,
// in any order, and Encode's lanes are the sum of the expansions.
func TestLtHashAddRemoveInverse(t *testing.T) {
	var h LtHash
	leaves := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	for _, l := range leaves {
		h.Add(l)
	}
	var want [ltHashLanes]uint16
	for _, l := range leaves {
		var x [LtHashBytes]byte
		expandLeaf(l, &x)
		for j := range want {
			want[j] += binary.LittleEndian.Uint16(x[2*j:])
		}
	}
	enc := h.Encode()
	for j := range want {
		if got := binary.LittleEndian.Uint16(enc[2*j:]); got != want[j] {
			t.Fatalf("lane %d = %#x, want %#x", j, got, want[j])
		}
	}
	h.Remove(leaves[1])
	h.Remove(leaves[0])
	h.Remove(leaves[2])
	if h != (LtHash{}) {
		t.Fatal("removing every leaf added did not restore the empty hash")
	}
}

// TestAddAccountMatchesLeaf checks the state hash's allocation-free path
// against the definition: adding or removing an account's leaf through
// addAccount changes the accumulator exactly as Add or Remove of
// stateLeaf does.
func TestAddAccountMatchesLeaf(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var addr crypto.Address
		copy(addr[:], rapid.SliceOfN(rapid.Byte(), crypto.AddressBytes, crypto.AddressBytes).Draw(t, "addr"))
		a := Account{Balance: rapid.Uint64().Draw(t, "balance"), Nonce: rapid.Uint64().Draw(t, "nonce")}
		var start LtHash
		start.Add([]byte(rapid.String().Draw(t, "other leaf")))
		fast, slow := start, start
		fast.addAccount(addr, a, false, new([LtHashBytes]byte))
		slow.Add(stateLeaf(addr, a))
		if fast != slow {
			t.Fatal("addAccount differs from Add(stateLeaf)")
		}
		fast.addAccount(addr, a, true, new([LtHashBytes]byte))
		slow.Remove(stateLeaf(addr, a))
		if fast != slow || fast != start {
			t.Fatal("removing through addAccount differs from Remove(stateLeaf)")
		}
	})
}

// stateLeaf is the leaf of a non-empty account as the package doc defines
// it: the address, then the account's encoding.
func stateLeaf(addr crypto.Address, a Account) []byte {
	return append(append([]byte(nil), addr[:]...), EncodeAccount(a)...)
}

// TestExpandKeyMatchesStandardLibrary checks the state hash's leaf
// expansion (with AES instructions on amd64) against the standard
// library's AES-256-CTR, byte for byte, for keys of every byte pattern
// the key schedule treats specially (zero, all ones, one bit set) and
// random ones.
func TestExpandKeyMatchesStandardLibrary(t *testing.T) {
	keys := [][sha256.Size]byte{{}, {0: 1}, {31: 0x80}}
	var ones [sha256.Size]byte
	for i := range ones {
		ones[i] = 0xff
	}
	keys = append(keys, ones)
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		var k [sha256.Size]byte
		for i := range k {
			k[i] = byte(rng.Uint32())
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		var got, want [LtHashBytes]byte
		expandKey(&k, &got)
		expandKeyStd(&k, &want)
		if got != want {
			t.Fatalf("key %x: expansion differs from crypto/aes at byte %d", k, firstDiff(got[:], want[:]))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// FuzzExpandKey compares the leaf expansion with the standard library's
// AES-256-CTR for any key.
func FuzzExpandKey(f *testing.F) {
	f.Add(make([]byte, sha256.Size))
	f.Fuzz(func(t *testing.T, b []byte) {
		var k [sha256.Size]byte
		copy(k[:], b)
		var got, want [LtHashBytes]byte
		expandKey(&k, &got)
		expandKeyStd(&k, &want)
		if got != want {
			t.Fatalf("key %x: expansion differs from crypto/aes at byte %d", k, firstDiff(got[:], want[:]))
		}
	})
}

// BenchmarkExpandKey compares the leaf expansion in use with the standard
// library's, in one run.
func BenchmarkExpandKey(b *testing.B) {
	for _, bc := range []struct {
		name   string
		expand func(*[sha256.Size]byte, *[LtHashBytes]byte)
	}{{"in-use", expandKey}, {"crypto-aes", expandKeyStd}} {
		b.Run(bc.name, func(b *testing.B) {
			var k [sha256.Size]byte
			var out [LtHashBytes]byte
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				k[0] = byte(i)
				bc.expand(&k, &out)
			}
		})
	}
}

// TestMixMatchesGeneric checks the accumulator's lane arithmetic in use
// (SSE2 on amd64) against the portable one, adding and removing random
// expansions with carries and borrows in every lane.
func TestMixMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var got, want LtHash
	for i := range got.words {
		got.words[i] = rng.Uint64()
	}
	want = got
	for round := range 50 {
		var x [LtHashBytes]byte
		for i := range x {
			x[i] = byte(rng.Uint32())
		}
		remove := round%3 == 1
		got.mix(&x, remove)
		want.mixGeneric(&x, remove)
		if got != want {
			t.Fatalf("round %d (remove %v): lanes differ from the portable arithmetic", round, remove)
		}
	}
}

// BenchmarkMix compares the accumulator's lane arithmetic in use with the
// portable one, in one run.
func BenchmarkMix(b *testing.B) {
	var x [LtHashBytes]byte
	for i := range x {
		x[i] = byte(i * 7)
	}
	for _, bc := range []struct {
		name string
		mix  func(*LtHash, *[LtHashBytes]byte, bool)
	}{{"in-use", (*LtHash).mix}, {"generic", (*LtHash).mixGeneric}} {
		b.Run(bc.name, func(b *testing.B) {
			var h LtHash
			for i := 0; b.Loop(); i++ {
				bc.mix(&h, &x, i&1 == 1)
			}
		})
	}
}
