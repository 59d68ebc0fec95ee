package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// recordingNet is a ConsensusNetwork that hands every message to note
// before it leaves.
type recordingNet struct {
	ConsensusNetwork
	note func(msg []byte)
}

func (r recordingNet) SendConsensus(to int, msg []byte) {
	r.note(msg)
	r.ConsensusNetwork.SendConsensus(to, msg)
}

func (r recordingNet) BroadcastConsensus(msg []byte) {
	r.note(msg)
	r.ConsensusNetwork.BroadcastConsensus(msg)
}

// discardNet is a ConsensusNetwork that reaches nobody.
type discardNet struct{}

func (discardNet) SendConsensus(int, []byte) {}
func (discardNet) BroadcastConsensus([]byte) {}

// crashSnapshot is a possible disk after a crash and the messages that had
// left the process by then.
type crashSnapshot struct {
	fs   *vfs.MemFS
	sent [][]byte
}

// promises is what a log of consensus records promises, read the way the
// replica restores it (pbft persist.go): the highest view and checkpoint,
// and the digest signed at each (view, height, kind).
type promises struct {
	view, stable uint64
	sent         map[[3]uint64]crypto.Hash
}

func readPromises(t *testing.T, raw [][]byte) promises {
	t.Helper()
	p := promises{sent: make(map[[3]uint64]crypto.Hash)}
	for i, b := range raw {
		rec, err := pbft.DecodeRecord(b)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		switch rec.Kind {
		case pbft.RecordView:
			p.view = max(p.view, rec.View)
		case pbft.RecordCheckpoint:
			p.stable = max(p.stable, rec.Checkpoint.Height)
		case pbft.RecordSent:
			p.sent[[3]uint64{rec.Sent.View, rec.Sent.Height, uint64(rec.Sent.Kind)}] = rec.Sent.Digest
		}
	}
	return p
}

// uncovered explains why a vote or view change the replica sent is not
// covered by the promises (so a restarted replica could sign otherwise),
// or returns "".
func (p promises) uncovered(m *pbft.Message) string {
	switch m.Kind {
	case pbft.KindPrePrepare, pbft.KindPrepare, pbft.KindCommit:
		if m.Height <= p.stable || m.View < p.view {
			return "" // the replica never votes there again
		}
		d, ok := p.sent[[3]uint64{m.View, m.Height, uint64(m.Kind)}]
		switch {
		case !ok:
			return fmt.Sprintf("%s sent, no record of it (records: view %d, stable %d)", m, p.view, p.stable)
		case d != m.Digest:
			return fmt.Sprintf("%s sent, record holds digest %s", m, d.Short())
		}
	case pbft.KindViewChange, pbft.KindNewView:
		if m.View > p.view {
			return fmt.Sprintf("%s for view %d sent, records reach view %d", m.Kind, m.View, p.view)
		}
	}
	return ""
}

// checkSnapshot opens the store a crash would leave, checks that its
// records cover every vote and view change that had left and that a
// driver starts from it, and returns the hashes of its blocks from height
// 1, each stored with a certificate that verifies.
func checkSnapshot(t *testing.T, c *testCluster, node int, s crashSnapshot) []crypto.Hash {
	t.Helper()
	store, err := ledger.OpenStore(c.storeDirs[node], ledger.StoreOptions{ChainID: c.genesis.ChainID, FS: s.fs})
	if err != nil {
		t.Fatalf("open the store a crash left: %v", err)
	}
	defer store.Close()
	raw, err := store.LogRecords()
	if err != nil {
		t.Fatal(err)
	}
	p := readPromises(t, raw)
	for _, b := range s.sent {
		m, err := pbft.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if why := p.uncovered(m); why != "" {
			t.Fatalf("after a crash (%d messages sent): %s", len(s.sent), why)
		}
		if m.Kind == pbft.KindNewView {
			for _, pp := range m.NewView.PrePrepares {
				if why := p.uncovered(pp); why != "" {
					t.Fatalf("after a crash (%d messages sent): in NEW-VIEW: %s", len(s.sent), why)
				}
			}
		}
	}
	vals, err := c.genesis.ValidatorSet()
	if err != nil {
		t.Fatal(err)
	}
	var chain []crypto.Hash
	for h := uint64(1); h <= store.Head().Height; h++ {
		b, err := store.BlockByHeight(h)
		if err != nil {
			t.Fatalf("crash left head %d without block %d: %v", store.Head().Height, h, err)
		}
		cert, err := store.Certificate(h)
		if err != nil || cert.VerifyFor(c.genesis.ChainID, vals, b) != nil {
			t.Fatalf("crash left block %d without a certificate that verifies (%v)", h, err)
		}
		chain = append(chain, b.Hash())
	}
	d, err := newDriver(driverConfig{
		Genesis: c.genesis, Self: uint16(node), Key: c.valKeys[node], Store: store,
		Net:  discardNet{},
		Pool: &slicePool{}, Tick: 10 * time.Millisecond, Now: time.Now,
		Metrics:  NewMetrics(func() float64 { return 0 }, func() float64 { return 0 }),
		Penalize: func(string, error) {}, Logger: c.drivers[node].log,
	})
	if err != nil {
		t.Fatalf("restart after a crash (%d messages sent): %v", len(s.sent), err)
	}
	if err := d.handleReady(); err != nil {
		t.Fatalf("restart after a crash (%d messages sent): first Ready: %v", len(s.sent), err)
	}
	return chain
}

// syncFrom makes node catch up from the store of the node furthest ahead,
// as block sync would: one run at a time, blocks handed to the loop in
// order.
// The runs are in wg, so a test can wait for them before it closes the
// stores.
func (c *testCluster) syncFrom(ctx context.Context, wg *sync.WaitGroup, node int, delivered *atomic.Int64) func(from, to uint64, _ []uint16) {
	var running atomic.Bool
	return func(from, to uint64, _ []uint16) {
		if !running.CompareAndSwap(false, true) {
			return
		}
		wg.Go(func() {
			defer running.Store(false)
			src := c.stores[(node+1)%len(c.stores)]
			for i, s := range c.stores {
				if i != node && s.Head().Height > src.Head().Height {
					src = s
				}
			}
			for h := from; h <= to && h <= src.Head().Height; h++ {
				b, err := src.BlockByHeight(h)
				if err != nil {
					return
				}
				cert, err := src.Certificate(h)
				if err != nil {
					return
				}
				if c.drivers[node].deliverSynced(ctx, b, cert) != nil {
					return
				}
				delivered.Add(1)
			}
		})
	}
}

// TestDriverCrashKeepsEverySentPromise: a validator must never sign two
// different votes for one (view, height), even across a crash at any
// moment: every promise a message carries is fsynced before the message
// leaves, through normal commits, view changes, compaction of the records
// and catch-up with its background block writes; and the blocks a crash
// leaves are a prefix of the chain. Method: four in-process loops; node
// 1's store is on a crashable file system and its network takes a crash
// clone as a message leaves (one at a time: the next once the last is
// checked). Between checks the test takes clones of its own, at random
// moments. Over a run that commits a few dozen heights, changes view (the
// primary is cut off) and has node 1 cut off and catch up, each clone
// must hold records covering every vote and view change sent by then,
// restart a driver, and hold blocks the live store holds.
func TestDriverCrashKeepsEverySentPromise(t *testing.T) {
	const (
		node      = 1
		checksMax = 300 // crash clones checked, at most
	)
	crashable := vfs.NewCrashableMem()
	c := newTestClusterWith(t, 4, func(i int) vfs.FS {
		if i == node {
			return crashable
		}
		return nil
	}, 0)
	ctx, cancel := context.WithCancel(context.Background())
	// Under sendMu: the messages node 1 sent, a crash clone taken as one
	// of them left (nil once checked), and how many clones were taken.
	var (
		sendMu  sync.Mutex
		sent    [][]byte
		atSend  *crashSnapshot
		clones  int
		sendRng = rand.New(rand.NewPCG(3, 4))
	)
	crashNow := func(rng *rand.Rand) crashSnapshot { // under sendMu
		clones++
		return crashSnapshot{
			fs:   crashable.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(50), RNG: rng}),
			sent: append([][]byte(nil), sent...),
		}
	}
	d := c.drivers[node]
	d.net = recordingNet{ConsensusNetwork: d.net, note: func(msg []byte) {
		sendMu.Lock()
		defer sendMu.Unlock()
		sent = append(sent, msg)
		if atSend == nil && clones < checksMax {
			s := crashNow(sendRng)
			atSend = &s
		}
	}}
	var loops, syncs sync.WaitGroup
	synced := make([]atomic.Int64, len(c.drivers))
	for i, d := range c.drivers {
		d.catchUp = c.syncFrom(ctx, &syncs, i, &synced[i])
	}
	for _, d := range c.drivers {
		loops.Go(func() { _ = d.run(ctx) })
	}
	stop := func() { cancel(); loops.Wait(); syncs.Wait() }
	defer stop()

	rng := rand.New(rand.NewPCG(1, 2))
	var chains [][]crypto.Hash
	check := func() {
		sendMu.Lock()
		var snaps []crashSnapshot
		if atSend != nil {
			snaps = append(snaps, *atSend)
			atSend = nil
		}
		if clones < checksMax {
			snaps = append(snaps, crashNow(rng))
		}
		sendMu.Unlock()
		for _, s := range snaps {
			chains = append(chains, checkSnapshot(t, c, node, s))
		}
	}
	setDown := func(i int, down bool) {
		c.mu.Lock()
		c.down[i] = down
		c.mu.Unlock()
	}
	head := func(i int) uint64 { return c.stores[i].Head().Height }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30s (heads %d %d %d %d)", what, head(0), head(1), head(2), head(3))
			}
			time.Sleep(time.Duration(rng.IntN(5)) * time.Millisecond)
			check()
		}
	}

	waitFor("node 1 commits 24 heights", func() bool { return head(node) >= 24 })
	setDown(0, true) // the primary of view 0: the others change view
	start := head(node)
	waitFor("node 1 commits past a view change", func() bool { return head(node) >= start+8 })
	setDown(0, false)
	setDown(node, true) // node 1 falls behind, then catches up
	start = head(2)
	waitFor("the others commit without node 1", func() bool { return head(2) >= start+24 })
	setDown(node, false)
	target := head(2) + 8
	waitFor("node 1 catches up", func() bool { return head(node) >= target })
	check()
	stop()
	view, _ := d.view()
	if view == 0 || synced[node].Load() == 0 {
		t.Fatalf("node 1 in view %d, %d blocks synced: the run did not change view or catch up", view, synced[node].Load())
	}
	for _, chain := range chains {
		for i, h := range chain {
			live, err := c.stores[node].BlockByHeight(uint64(i + 1))
			if err != nil || live.Hash() != h {
				t.Fatalf("a crash left block %d unlike the live one (%v)", i+1, err)
			}
		}
	}
	t.Logf("%d crash clones checked, %d messages sent; node 1 at head %d, view %d, %d blocks synced", len(chains), len(sent), head(node), view, synced[node].Load())
}
