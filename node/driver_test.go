package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// chanNet is an in-process ConsensusNetwork: every node's driver inbox,
// reachable by validator index.
type chanNet struct {
	self    int
	drivers []*driver
	mu      *sync.Mutex
	down    map[int]bool
}

func (n chanNet) SendConsensus(to int, msg []byte) {
	n.mu.Lock()
	blocked := n.down[to] || n.down[n.self]
	n.mu.Unlock()
	if !blocked {
		n.drivers[to].deliver(fmt.Sprint(n.self), msg)
	}
}

func (n chanNet) BroadcastConsensus(msg []byte) {
	for i := range n.drivers {
		if i != n.self {
			n.SendConsensus(i, msg)
		}
	}
}

// slicePool is a TxPool holding txs until they commit.
type slicePool struct {
	mu  sync.Mutex
	txs []*ledger.Tx
}

func (p *slicePool) Size() (int, int) { p.mu.Lock(); defer p.mu.Unlock(); return len(p.txs), 0 }

// Executable: the slice pool keeps no state, so every pending tx counts.
func (p *slicePool) Executable() bool { n, _ := p.Size(); return n > 0 }

func (p *slicePool) add(tx *ledger.Tx) { p.mu.Lock(); p.txs = append(p.txs, tx); p.mu.Unlock() }

func (p *slicePool) ReapAfter(maxTxs, _ int, next func(crypto.Address) uint64) []*ledger.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*ledger.Tx
	for _, tx := range p.txs {
		if len(out) < maxTxs && tx.Nonce >= next(tx.Sender()) {
			out = append(out, tx)
		}
	}
	return out
}

func (p *slicePool) Update(committed []*ledger.Tx, _ ledger.StateReader) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := make(map[crypto.Hash]bool, len(committed))
	for _, tx := range committed {
		done[tx.Hash()] = true
	}
	kept := p.txs[:0]
	for _, tx := range p.txs {
		if !done[tx.Hash()] {
			kept = append(kept, tx)
		}
	}
	p.txs = kept
}

type testCluster struct {
	genesis   *ledger.Genesis
	valKeys   []crypto.PrivateKey
	accounts  []crypto.PrivateKey
	drivers   []*driver
	pools     []*slicePool
	stores    []*ledger.Store
	storeDirs []string // where each store is, on its file system
	mu        sync.Mutex
	down      map[int]bool
	commits   []chan *ledger.Block
}

func testGenesis(t testing.TB, n, accounts int) (*ledger.Genesis, []crypto.PrivateKey, []crypto.PrivateKey) {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{1})
	g := &ledger.Genesis{ChainID: "node-test", GenesisTime: time.Now().UTC().Truncate(time.Second), Consensus: ledger.DefaultConsensusParams()}
	g.Consensus.ViewChangeTimeoutMs = 500
	g.Consensus.CheckpointInterval = 4
	g.Consensus.WindowHeights = 8
	var vals, accts []crypto.PrivateKey
	for i := 0; i < n; i++ {
		k, err := crypto.GenerateKey(rng)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, k)
		g.Validators = append(g.Validators, ledger.Validator{Name: fmt.Sprintf("v%d", i), PublicKey: k.Public()})
	}
	for i := 0; i < accounts; i++ {
		k, err := crypto.GenerateKey(rng)
		if err != nil {
			t.Fatal(err)
		}
		accts = append(accts, k)
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: k.Public().Address(), Amount: 1_000_000})
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g, vals, accts
}

func newTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, n, func(int) vfs.FS { return nil }, 0)
}

// newTestClusterWith is newTestCluster with node i's store on fsOf(i)
// (nil: the disk) and an idle primary proposing every emptyBlockInterval
// (0: at every tick, so heights advance without txs).
func newTestClusterWith(t *testing.T, n int, fsOf func(i int) vfs.FS, emptyBlockInterval time.Duration) *testCluster {
	t.Helper()
	g, vals, accts := testGenesis(t, n, 4)
	c := &testCluster{genesis: g, valKeys: vals, accounts: accts, down: map[int]bool{}}
	c.drivers = make([]*driver, n)
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		store, err := ledger.OpenStore(dir+"/ledger", ledger.StoreOptions{ChainID: g.ChainID, FS: fsOf(i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.InitGenesis(g); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		pool := &slicePool{}
		commits := make(chan *ledger.Block, 1024)
		d, err := newDriver(driverConfig{
			Genesis: g, Self: uint16(i), Key: vals[i], Store: store,
			Net:  chanNet{self: i, drivers: c.drivers, mu: &c.mu, down: c.down},
			Pool: pool, Tick: 10 * time.Millisecond, Now: time.Now, EmptyBlockInterval: emptyBlockInterval,
			Observer: func(b *ledger.Block, _ *ledger.CommitCertificate) {
				select {
				case commits <- b:
				default:
				}
			},
			Metrics:  NewMetrics(func() float64 { return 0 }, func() float64 { return 0 }),
			Penalize: func(string, error) {},
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		c.drivers[i] = d
		c.pools = append(c.pools, pool)
		c.stores = append(c.stores, store)
		c.storeDirs = append(c.storeDirs, dir+"/ledger")
		c.commits = append(c.commits, commits)
	}
	return c
}

// TestDriversCommitTransfers runs four consensus loops in one process over
// channels, with real stores and WALs, submits transfers to every pool and
// checks that every node commits them, in identical blocks.
func TestDriversCommitTransfers(t *testing.T) {
	c := newTestCluster(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range c.drivers {
		wg.Add(1)
		go func() { defer wg.Done(); _ = d.run(ctx) }()
	}
	const txs = 20
	var hashes []crypto.Hash
	for i := 0; i < txs; i++ {
		from := c.accounts[i%len(c.accounts)]
		tx := &ledger.Tx{ChainID: c.genesis.ChainID, Nonce: uint64(i / len(c.accounts)), To: c.accounts[(i+1)%len(c.accounts)].Public().Address(), Amount: 10, Fee: 1}
		tx.Sign(from)
		hashes = append(hashes, tx.Hash())
		for _, p := range c.pools {
			p.add(tx)
		}
	}
	deadline := time.After(30 * time.Second)
	for {
		done := true
		for _, s := range c.stores {
			for _, h := range hashes {
				if _, _, err := s.TxLocation(h); err != nil {
					done = false
				}
			}
		}
		if done {
			break
		}
		select {
		case <-deadline:
			cancel()
			wg.Wait()
			t.Fatalf("not every tx committed within 30s; heads %d %d %d %d", c.stores[0].Head().Height, c.stores[1].Head().Height, c.stores[2].Head().Height, c.stores[3].Head().Height)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	wg.Wait()
	minHead := c.stores[0].Head().Height
	for _, s := range c.stores {
		minHead = min(minHead, s.Head().Height)
	}
	for h := uint64(1); h <= minHead; h++ {
		want, err := c.stores[0].BlockByHeight(h)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range c.stores[1:] {
			got, err := s.BlockByHeight(h)
			if err != nil || got.Hash() != want.Hash() {
				t.Fatalf("node %d block %d differs from node 0 (%v)", i+1, h, err)
			}
			cert, err := s.Certificate(h)
			if err != nil {
				t.Fatal(err)
			}
			vals, _ := c.genesis.ValidatorSet()
			if err := cert.VerifyFor(c.genesis.ChainID, vals, got); err != nil {
				t.Fatalf("node %d certificate %d: %v", i+1, h, err)
			}
		}
	}
	var total uint64
	for _, k := range c.accounts {
		a, _ := c.stores[0].GetAccount(k.Public().Address())
		total += a.Balance
	}
	for _, v := range c.genesis.Validators {
		a, _ := c.stores[0].GetAccount(v.Address())
		total += a.Balance
	}
	if total != c.genesis.TotalSupply() {
		t.Fatalf("supply %d, genesis %d", total, c.genesis.TotalSupply())
	}
	for i, d := range c.drivers {
		if n := diskWrites(t, d.metrics, diskLogStore); n == 0 {
			t.Errorf("node %d: no store write timed in synod_disk_write_seconds", i)
		}
		checkWALMirror(t, i, d)
	}
}

// checkWALMirror checks that the records a stopped driver keeps for
// compaction are exactly those in its store's log.
func checkWALMirror(t *testing.T, node int, d *driver) {
	t.Helper()
	raw, err := d.store.LogRecords()
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != len(d.walLog) {
		t.Fatalf("node %d: store log has %d records, the driver's mirror %d", node, len(raw), len(d.walLog))
	}
	for j := range raw {
		if !bytes.Equal(raw[j], pbft.EncodeRecord(&d.walLog[j])) {
			t.Fatalf("node %d: log record %d differs from the driver's mirror", node, j)
		}
	}
	t.Logf("node %d: head %d, %d log records", node, d.store.Head().Height, len(raw))
}

// diskWrites is the count of synod_disk_write_seconds for log.
func diskWrites(t *testing.T, m *Metrics, log string) uint64 {
	t.Helper()
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "synod_disk_write_seconds" {
			continue
		}
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "log" && l.GetValue() == log {
					return metric.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// TestDriversCompactTheirLogs runs four consensus loops for over a hundred
// heights: every driver must have compacted its consensus records at
// stable checkpoints (without compaction a height leaves at least three),
// and the records it keeps for compaction must be exactly its store's log.
func TestDriversCompactTheirLogs(t *testing.T) {
	const heights = 120
	c := newTestCluster(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range c.drivers {
		wg.Go(func() { _ = d.run(ctx) })
	}
	// The height a quorum (3 of 4) has reached: this cluster has no
	// catch-up, so on a loaded machine one node that drops messages from
	// its bounded inbox can fall a window behind and stay there, as a
	// real node would until it syncs; the test is about compaction.
	quorumHead := func() uint64 {
		hs := make([]uint64, len(c.stores))
		for i, s := range c.stores {
			hs[i] = s.Head().Height
		}
		slices.Sort(hs)
		return hs[1]
	}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; quorumHead() < heights; i++ {
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			t.Fatalf("a quorum's heads reached only %d of %d in 60s", quorumHead(), heights)
		}
		from := c.accounts[i%len(c.accounts)]
		tx := &ledger.Tx{ChainID: c.genesis.ChainID, Nonce: uint64(i / len(c.accounts)), To: c.accounts[(i+1)%len(c.accounts)].Public().Address(), Amount: 1, Fee: 1}
		tx.Sign(from)
		for _, p := range c.pools {
			p.add(tx)
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	for i, d := range c.drivers {
		checkWALMirror(t, i, d)
		if n := len(d.walLog); n >= 2*heights {
			t.Errorf("node %d: %d log records after %d heights: never compacted", i, n, d.store.Head().Height)
		}
	}
}

// TestDriverSyncsWhenIdle: normal-path blocks are written without an fsync
// of their own, and the next step's records fsync covers them; once the
// loop has nothing left to step it syncs, so after the network goes quiet
// a crash of a backup's machine (a crash clone keeping no unsynced data)
// loses no block it committed. Quiet means the three other validators
// stop: the backup then receives nothing, commits nothing more and
// persists nothing before its view-change timeout, so only the idle sync
// can cover its last blocks (an idle primary's empty blocks would race
// the snapshot, and their records' fsyncs would hide a missing idle sync).
func TestDriverSyncsWhenIdle(t *testing.T) {
	const backup = 1 // the primary of view 0 is validator 0
	crashable := vfs.NewCrashableMem()
	c := newTestClusterWith(t, 4, func(i int) vfs.FS {
		if i == backup {
			return crashable
		}
		return nil
	}, 0)
	ctxBackup, cancelBackup := context.WithCancel(context.Background())
	ctxOthers, cancelOthers := context.WithCancel(context.Background())
	var backupLoop, others sync.WaitGroup
	for i, d := range c.drivers {
		if i == backup {
			backupLoop.Go(func() { _ = d.run(ctxBackup) })
		} else {
			others.Go(func() { _ = d.run(ctxOthers) })
		}
	}
	defer func() { cancelOthers(); others.Wait(); cancelBackup(); backupLoop.Wait() }()
	for i := range 12 {
		from := c.accounts[i%len(c.accounts)]
		tx := &ledger.Tx{ChainID: c.genesis.ChainID, Nonce: uint64(i / len(c.accounts)), To: c.accounts[(i+1)%len(c.accounts)].Public().Address(), Amount: 1, Fee: 1}
		tx.Sign(from)
		for _, p := range c.pools {
			p.add(tx)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if txs, _ := c.pools[backup].Size(); txs == 0 && c.stores[backup].Head().Height > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backup did not commit the transfers within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancelOthers()
	others.Wait()
	// Give the backup's loop time to step what is left and go idle, well
	// within its view-change timeout (500 ms).
	time.Sleep(200 * time.Millisecond)
	head := c.stores[backup].Head().Height
	clone := crashable.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	r, err := ledger.OpenStore(c.storeDirs[backup], ledger.StoreOptions{ChainID: c.genesis.ChainID, FS: clone})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Head().Height; got < head {
		t.Fatalf("after a crash of the idle backup: head %d, committed %d before it", got, head)
	}
}

// TestKeepEvidenceLeavesRoomForOthers floods the status's evidence list
// with a double-voter's offences, one per height as it commits them, and
// then reports one offence of another validator: that one must be shown,
// or a checker reading the status (the chaos test's "no honest validator
// in any evidence") cannot see it.
func TestKeepEvidenceLeavesRoomForOthers(t *testing.T) {
	d := &driver{}
	for h := range 1000 {
		d.keepEvidence(EvidenceSummary{Validator: 2, Kind: uint8(pbft.EvidenceConflict), Reason: fmt.Sprintf("height %d", h)})
	}
	d.keepEvidence(EvidenceSummary{Validator: 1, Kind: uint8(pbft.EvidenceConflict), Reason: "after the flood"})
	seen := d.evidenceSeen()
	if len(seen) > evidenceKeptMax {
		t.Fatalf("%d evidence kept, limit %d", len(seen), evidenceKeptMax)
	}
	for _, e := range seen {
		if e.Validator == 1 {
			return
		}
	}
	t.Fatalf("validator 1's evidence is not in the %d kept after validator 2's flood", len(seen))
}
