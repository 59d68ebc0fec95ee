package om

import (
	"errors"
	"testing"
)

// errorIs is errors.Is that also treats a nil want as "no error".
func errorIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

var (
	retreat []byte         // the default value
	attack  = []byte{0x01} // the other binary value
)

// strategyFunc lets a test script a traitor inline.
type strategyFunc func(path []NodeID, to NodeID, loyal []byte) ([]byte, bool)

func (f strategyFunc) Send(path []NodeID, to NodeID, loyal []byte) ([]byte, bool) {
	return f(path, to, loyal)
}

// digestValue is a 32-byte value shaped like a block or checkpoint digest.
func digestValue(seed byte) []byte {
	v := make([]byte, 32)
	for i := range v {
		v[i] = seed + byte(i)*7
	}
	return v
}

// runNetwork runs one instance commanded by node 0 and fails the test on a
// simulator error.
func runNetwork(t testing.TB, n, m int, value []byte, strategies []Strategy) Result {
	t.Helper()
	w, err := NewNetwork(n, m, 0)
	if err != nil {
		t.Fatalf("NewNetwork(%d, %d): %v", n, m, err)
	}
	if strategies == nil {
		strategies = make([]Strategy, n)
	}
	res, err := w.Run(value, strategies)
	if err != nil {
		t.Fatalf("Run n=%d m=%d: %v", n, m, err)
	}
	return res
}
