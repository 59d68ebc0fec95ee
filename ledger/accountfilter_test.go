package ledger

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/synod-chain/synod/crypto"
)

func randomAddrs(rng *rand.Rand, n int) []crypto.Address {
	out := make([]crypto.Address, n)
	for i := range out {
		for j := range out[i] {
			out[i][j] = byte(rng.Uint32())
		}
	}
	return out
}

// TestAccountFilterNoFalseNegatives: every address added is reported as
// possibly held, across growth into several parts, and the false-positive
// rate stays near its design (well under 0.1% per part).
func TestAccountFilterNoFalseNegatives(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	f := newAccountFilter(0)
	added := randomAddrs(rng, 5*accountFilterMinKeys) // forces growth
	for i := 0; i < len(added); i += 1000 {
		f.add(slices.Values(added[i:min(i+1000, len(added))]))
	}
	if len(f.parts) < 2 {
		t.Fatalf("filter did not grow: %d part(s)", len(f.parts))
	}
	for i, a := range added {
		if !f.mayHold(a) {
			t.Fatalf("address %d added but reported absent", i)
		}
	}
	absent := randomAddrs(rng, 100_000)
	fp := 0
	for _, a := range absent {
		if f.mayHold(a) {
			fp++
		}
	}
	if rate := float64(fp) / float64(len(absent)); rate > 0.002 {
		t.Fatalf("false-positive rate %.3f with %d parts", rate, len(f.parts))
	}
}

// TestAccountFilterFalsePositives measures a full part's false-positive
// rate against its design (about 0.03%): each false positive costs the
// store a Pebble read, the very cost the filter exists to save.
func TestAccountFilterFalsePositives(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	f := newAccountFilter(0)
	f.add(slices.Values(randomAddrs(rng, accountFilterMinKeys)))
	// add skips an address the part already seems to hold, so a few of
	// these are not counted.
	if len(f.parts) != 1 || f.parts[0].keys < accountFilterMinKeys-100 {
		t.Fatalf("%d parts, first holds %d keys", len(f.parts), f.parts[0].keys)
	}
	const probes = 1_000_000
	fp := 0
	for _, a := range randomAddrs(rng, probes) {
		if f.mayHold(a) {
			fp++
		}
	}
	t.Logf("false positives: %d of %d (%.4f%%)", fp, probes, 100*float64(fp)/probes)
	// 0.03% is about 300; a broken probe (positions correlated with the
	// block, or too few bits set) shows as thousands.
	if fp > 600 {
		t.Fatalf("false-positive rate %.4f%%, want under 0.06%%", 100*float64(fp)/probes)
	}
}
