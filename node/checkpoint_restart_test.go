package node

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/synod-chain/synod/consensus/pbft"
)

// TestRestartSignsTheLastCheckpointAgain checks that a node restarting
// with a head above its last checkpoint height (21 with K = 16) hands its
// replica the block at that height from the store (pbft.Config.Checkpoint),
// so the replica's first Ready signs that CHECKPOINT again: it kept its own
// only in memory, and with the others' lost a full window would wait on it.
// Method: a chain of 21 blocks written into node0's store; newDriver on it;
// the replica's first Ready must broadcast CHECKPOINT(16) for block 16.
func TestRestartSignsTheLastCheckpointAgain(t *testing.T) {
	c := newCatchUpNet(t, 8)
	if k := c.genesis.Consensus.CheckpointInterval; k != 16 {
		t.Fatalf("fixture: checkpoint interval %d, want 16", k)
	}
	blocks := c.buildChain(t, 21, 1, nil)
	store := c.openStore(t)
	defer store.Close()
	d, err := newDriver(driverConfig{
		Genesis: c.genesis, Self: 0, Key: c.valKeys[0], Store: store,
		Net: discardNet{}, Pool: &slicePool{}, Tick: 10 * time.Millisecond, Now: time.Now,
		Metrics:  NewMetrics(func() float64 { return 0 }, func() float64 { return 0 }),
		Penalize: func(string, error) {}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := blocks[15] // height 16
	var found bool
	for _, o := range d.replica.Ready().Messages {
		m := o.Msg
		if m.Kind != pbft.KindCheckpoint {
			continue
		}
		if m.Height != 16 || m.Digest != want.Hash() || m.StateRoot != want.Header.StateRoot || o.To != pbft.Broadcast {
			t.Fatalf("restart sent CHECKPOINT(%d, %s) to %d, want CHECKPOINT(16, %s) to everyone", m.Height, m.Digest.Short(), o.To, want.Hash().Short())
		}
		found = true
	}
	if !found {
		t.Fatal("the restarted replica signed no CHECKPOINT for height 16, the last checkpoint height below its head of 21")
	}
}
