package ledger_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// TestValidatorSetQuorumSafetyAndLiveness checks F and Quorum for
// n = 1..16 against their definitions: f is the largest f with n >= 3f+1;
// any two quorums share at least f+1 validators (so at least one correct
// one: safety) and Quorum is the smallest size that guarantees it; the
// n-f validators that may be correct can form a quorum alone (liveness).
func TestValidatorSetQuorumSafetyAndLiveness(t *testing.T) {
	for n := 1; n <= 16; n++ {
		set := validatorSet(t, n)
		f := 0
		for 3*(f+1)+1 <= n {
			f++
		}
		if set.F() != f {
			t.Errorf("n=%d: F() = %d, want %d", n, set.F(), f)
		}
		q := set.Quorum()
		// Two subsets of size q of an n-set share at least 2q-n members,
		// and some pair shares exactly that many.
		if 2*q-n < f+1 {
			t.Errorf("n=%d f=%d: two quorums of %d may share only %d validators, want >= f+1", n, f, q, 2*q-n)
		}
		if q > 1 && 2*(q-1)-n >= f+1 {
			t.Errorf("n=%d f=%d: quorum %d is not minimal; %d would be safe", n, f, q, q-1)
		}
		if n-f < q {
			t.Errorf("n=%d f=%d: the %d correct validators cannot form a quorum of %d", n, f, n-f, q)
		}
		if q > n {
			t.Errorf("n=%d: quorum %d exceeds n", n, q)
		}
	}
	// The textbook cases.
	for n, q := range map[int]int{1: 1, 4: 3, 7: 5, 10: 7, 5: 4} {
		if got := validatorSet(t, n).Quorum(); got != q {
			t.Errorf("n=%d: Quorum() = %d, want %d", n, got, q)
		}
	}
}

// TestValidatorSetPrimaryRotates checks that the primary of view v is
// validator v mod n, so n consecutive views give each validator one turn,
// including across the top of uint64.
func TestValidatorSetPrimaryRotates(t *testing.T) {
	for _, n := range []int{1, 4, 7} {
		set := validatorSet(t, n)
		for _, start := range []uint64{0, 1000, math.MaxUint64 - uint64(3*n)} {
			seen := make([]int, n)
			for v := start; v < start+uint64(n); v++ {
				p := set.Primary(v)
				if p != int(v%uint64(n)) {
					t.Fatalf("n=%d: Primary(%d) = %d", n, v, p)
				}
				seen[p]++
			}
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("n=%d from view %d: validator %d is primary %d times in %d views", n, start, i, c, n)
				}
			}
		}
		if p := set.Primary(math.MaxUint64); !set.Contains(p) {
			t.Fatalf("n=%d: Primary(MaxUint64) = %d out of range", n, p)
		}
	}
}

// TestNewValidatorSetRejects checks that a set with duplicate keys, a
// small-order key, no members, too many members or an oversized name is
// refused, and that a good set keeps its order and index.
func TestNewValidatorSetRejects(t *testing.T) {
	v := func(i int) ledger.Validator { return ledger.Validator{Name: "v", PublicKey: testKey(i).Public()} }
	if _, err := ledger.NewValidatorSet([]ledger.Validator{v(0), v(1), v(0)}); err == nil || !strings.Contains(err.Error(), "share public key") {
		t.Errorf("duplicate keys: err = %v", err)
	}
	if _, err := ledger.NewValidatorSet([]ledger.Validator{v(0), {Name: "bad", PublicKey: identityKey}}); !errors.Is(err, crypto.ErrKeySmallOrder) {
		t.Errorf("small-order key: err = %v, want ErrKeySmallOrder", err)
	}
	if _, err := ledger.NewValidatorSet(nil); !errors.Is(err, ledger.ErrNoValidators) {
		t.Errorf("empty set: err = %v, want ErrNoValidators", err)
	}
	many := make([]ledger.Validator, ledger.ValidatorsMax+1)
	for i := range many {
		many[i] = v(i)
	}
	if _, err := ledger.NewValidatorSet(many); err == nil {
		t.Errorf("%d validators accepted", len(many))
	}
	if _, err := ledger.NewValidatorSet(many[:ledger.ValidatorsMax]); err != nil {
		t.Errorf("ValidatorsMax validators: %v", err)
	}
	long := v(0)
	long.Name = strings.Repeat("n", ledger.ValidatorNameBytesMax+1)
	if _, err := ledger.NewValidatorSet([]ledger.Validator{long}); err == nil {
		t.Errorf("oversized name accepted")
	}
	set, err := ledger.NewValidatorSet([]ledger.Validator{v(2), v(0), v(1)})
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := set.IndexOf(testKey(0).Public()); !ok || i != 1 || set.At(1).PublicKey != testKey(0).Public() {
		t.Errorf("IndexOf(key 0) = %d, %v; want 1", i, ok)
	}
	if _, ok := set.IndexOf(testKey(5).Public()); ok {
		t.Errorf("a non-member has an index")
	}
	if set.Contains(-1) || set.Contains(3) || !set.Contains(2) {
		t.Errorf("Contains is wrong at the edges")
	}
	all := set.All()
	all[0].Name = "changed"
	if set.At(0).Name == "changed" {
		t.Errorf("All returns the set's own slice")
	}
}
