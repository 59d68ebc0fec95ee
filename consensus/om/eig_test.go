package om

import (
	"testing"
)

// allPaths lists every path of length 1..rounds from commander c among n
// nodes, by brute force, independently of shape.index.
func allPaths(n, rounds int, c NodeID) [][]NodeID {
	var out [][]NodeID
	var grow func(p []NodeID)
	grow = func(p []NodeID) {
		out = append(out, append([]NodeID(nil), p...))
		if len(p) == rounds {
			return
		}
		for id := range n {
			if !containsID(p, NodeID(id)) {
				grow(append(p, NodeID(id)))
			}
		}
	}
	grow([]NodeID{c})
	return out
}

func containsID(p []NodeID, id NodeID) bool {
	for _, x := range p {
		if x == id {
			return true
		}
	}
	return false
}

func TestShapeIndexIsBijection(t *testing.T) {
	// Goal: every path gets its own slot and no slot is left over; method:
	// enumerate all paths by brute force for several (n, m, commander) and
	// compare the indexes with 0..slots-1.
	for _, tc := range []struct{ n, m int }{{1, 0}, {2, 1}, {3, 1}, {4, 1}, {5, 2}, {7, 2}, {8, 3}, {10, 3}} {
		for c := range tc.n {
			s, err := newShape(tc.n, tc.m)
			if err != nil {
				t.Fatalf("n=%d m=%d: %v", tc.n, tc.m, err)
			}
			paths := allPaths(tc.n, tc.m+1, NodeID(c))
			if len(paths) != s.slots() {
				t.Fatalf("n=%d m=%d: %d paths, %d slots", tc.n, tc.m, len(paths), s.slots())
			}
			seen := make([]bool, s.slots())
			for _, p := range paths {
				i := s.index(p)
				if i < 0 || i >= len(seen) || seen[i] {
					t.Fatalf("n=%d m=%d c=%d: path %v has slot %d (out of range or reused)", tc.n, tc.m, c, p, i)
				}
				if i < s.levelStart[len(p)] || i >= s.levelStart[len(p)+1] {
					t.Fatalf("path %v slot %d outside its level", p, i)
				}
				seen[i] = true
			}
		}
	}
}

func TestShapeLimits(t *testing.T) {
	// Goal: configurations outside the limits are refused with the right
	// sentinel; method: table of (n, m) at and past each bound.
	cases := []struct {
		n, m int
		want error
	}{
		{0, 0, ErrNodes},
		{NodesMax + 1, 0, ErrNodes},
		{4, -1, ErrFaults},
		{4, 4, ErrFaults},
		{16, 5, ErrTreeLarge},
		{15, 4, nil},
		{NodesMax, 1, nil},
	}
	for _, tc := range cases {
		_, err := newShape(tc.n, tc.m)
		if !errorIs(err, tc.want) {
			t.Errorf("n=%d m=%d: got %v, want %v", tc.n, tc.m, err, tc.want)
		}
	}
}

func TestMajority(t *testing.T) {
	// Goal: majority is the paper's — a strict majority or the default, never
	// dependent on order; method: table including ties and permutations.
	cases := []struct {
		in   []valueRef
		want valueRef
	}{
		{nil, refDefault},
		{[]valueRef{3}, 3},
		{[]valueRef{3, 3, 2}, 3},
		{[]valueRef{2, 3, 3}, 3},
		{[]valueRef{3, 2, 3}, 3},
		{[]valueRef{3, 2}, refDefault},
		{[]valueRef{3, 3, 2, 2}, refDefault},
		{[]valueRef{1, 2, 3}, refDefault},
		{[]valueRef{1, 2, 1, 3, 1}, 1},
		{[]valueRef{2, 1, 3, 1}, refDefault},
		{[]valueRef{0, 0, 5}, 0},
	}
	for _, tc := range cases {
		if got := majority(tc.in); got != tc.want {
			t.Errorf("majority(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestMessagesPerInstanceFormula(t *testing.T) {
	// Goal: the closed form matches the paper's sum; method: hand-computed
	// values, including m beyond what n can relay.
	cases := []struct{ n, m, want int }{
		{1, 0, 0},
		{2, 0, 1},
		{3, 1, 2 + 2*1},
		{4, 1, 3 + 3*2},
		{4, 2, 3 + 6 + 6},
		{4, 3, 3 + 6 + 6},
		{7, 2, 6 + 30 + 120},
		{10, 3, 9 + 72 + 504 + 3024},
	}
	for _, tc := range cases {
		if got := MessagesPerInstance(tc.n, tc.m); got != tc.want {
			t.Errorf("MessagesPerInstance(%d, %d) = %d, want %d", tc.n, tc.m, got, tc.want)
		}
	}
}
