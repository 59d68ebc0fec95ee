package om_test

import (
	"errors"
	"math"
	"testing"

	"github.com/synod-chain/synod/consensus/om"
)

// TestMessagesCountsWhatARunSends: the count Simulate checks against
// SimulateMessagesMax before it builds anything must be the number of
// messages a run sends, single and interactive, else the bound refuses
// runs it should allow or lets through the ones that exhaust memory.
func TestMessagesCountsWhatARunSends(t *testing.T) {
	for _, tc := range []struct{ n, m int }{{2, 0}, {4, 1}, {5, 1}, {7, 2}, {8, 2}, {6, 5}} {
		for _, interactive := range []bool{false, true} {
			rep, err := om.Simulate(om.Scenario{Nodes: tc.n, Faults: tc.m, Strategy: om.StrategySplit, Value: []byte{1}, Interactive: interactive})
			if err != nil {
				t.Fatalf("n=%d m=%d interactive=%v: %v", tc.n, tc.m, interactive, err)
			}
			if got := om.Messages(tc.n, tc.m, interactive); got != uint64(rep.Messages) {
				t.Fatalf("n=%d m=%d interactive=%v: Messages says %d, the run sent %d", tc.n, tc.m, interactive, got, rep.Messages)
			}
		}
	}
	if got := om.Messages(om.NodesMax, om.NodesMax-1, true); got != math.MaxUint64 {
		t.Fatalf("n=%d m=%d: %d, want saturation", om.NodesMax, om.NodesMax-1, got)
	}
}

// TestSimulateRefusesRunTooLarge: n = 64, m = 2, interactive passes every
// per-instance bound but sends 15.5M messages (about 3.5 GB held); it must
// be refused up front with ErrRunLarge.
func TestSimulateRefusesRunTooLarge(t *testing.T) {
	_, err := om.Simulate(om.Scenario{Nodes: 64, Faults: 2, Strategy: om.StrategySplit, Value: []byte{1}, Interactive: true})
	if !errors.Is(err, om.ErrRunLarge) {
		t.Fatalf("n=64 m=2 interactive: %v, want ErrRunLarge", err)
	}
}
