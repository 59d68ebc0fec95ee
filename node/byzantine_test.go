package node

import (
	"fmt"
	"testing"
	"time"
)

// TestByzantineValidatorModes runs four validators, one of them Byzantine
// in each mode, and checks the three honest ones stay safe (one chain,
// valid certificates) and live (keep committing, past a view change when
// the Byzantine one is the first primary), and that a double-voting or
// invalid-proposing validator is caught: honest nodes hold evidence against
// it and against no honest validator.
func TestByzantineValidatorModes(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node integration test; skipped in -short")
	}
	for _, mode := range ByzantineModes {
		t.Run(mode, func(t *testing.T) {
			const bad = 0 // the primary of view 0: its proposals come first
			ln := newLocalNet(t, 4, 2)
			ln.configure = func(i int, c *Config) {
				if i == bad {
					c.Testing.Byzantine = mode
				}
			}
			all := []int{0, 1, 2, 3}
			for _, i := range all {
				ln.start(i)
			}
			honest := without(all, bad)
			ln.waitFor(fmt.Sprintf("12 heights with a %s validator", mode), 90*time.Second, func() bool {
				return minOf(ln.heights(honest...)) >= 12
			})
			assertSameChain(t, ln, honest)
			for _, i := range honest {
				for _, ev := range ln.node(i).driver.evidenceSeen() {
					if ev.Validator != bad {
						t.Fatalf("node %d holds evidence against honest validator %d: %s", i, ev.Validator, ev.Reason)
					}
				}
			}
			if mode != ByzantineDoubleVote {
				// A silent, equivocating or invalid primary cannot get a
				// block committed: the honest replicas must have moved on.
				if v, _ := ln.node(honest[0]).driver.view(); v == 0 {
					t.Fatalf("%s primary still in view 0", mode)
				}
			}
			if mode == ByzantineDoubleVote || mode == ByzantineInvalidProposals {
				caught := 0
				for _, i := range honest {
					if len(ln.node(i).driver.evidenceSeen()) > 0 {
						caught++
					}
				}
				if caught == 0 {
					t.Fatalf("no honest node caught the %s validator", mode)
				}
			}
		})
	}
}
