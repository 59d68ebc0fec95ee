package testnet_test

import (
	"fmt"
	"math"
	"math/bits"
	"testing"
)

// supplyOf sums the balances of the accounts, failing where the sum
// passes 2^64 rather than wrapping: a balance that went below zero wraps
// to near 2^64, and a wrapping sum of it with the coins it wrongly paid
// out is the genesis supply again.
func supplyOf(balances []uint64) (uint64, error) {
	var total uint64
	for _, b := range balances {
		var carry uint64
		if total, carry = bits.Add64(total, b, 0); carry != 0 {
			return 0, fmt.Errorf("balances sum past 2^64 (one of %d is near 2^64: a balance that went below zero?)", len(balances))
		}
	}
	return total, nil
}

// TestSupplyOfCatchesWrappedBalance feeds the balance checker the
// balances of a transfer that drove its sender below zero: 10 coins
// sent from a balance of 5 leave the sender at 2^64-5 and the recipient
// 10 richer. A wrapping sum is the supply again; the checker must fail.
func TestSupplyOfCatchesWrappedBalance(t *testing.T) {
	if got, err := supplyOf([]uint64{100, 5}); err != nil || got != 105 {
		t.Fatalf("supplyOf(100, 5) = %d, %v; want 105", got, err)
	}
	if got, err := supplyOf([]uint64{110, math.MaxUint64 - 4}); err == nil {
		t.Fatalf("a balance below zero (wrapped) sums to %d without an error", got)
	}
}
