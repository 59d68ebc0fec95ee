package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// logSignal is a slog handler that closes a channel when a record with
// msg is logged.
type logSignal struct {
	slog.Handler
	msg  string
	seen chan struct{}
}

func (h logSignal) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		close(h.seen)
	}
	return h.Handler.Handle(ctx, r)
}

func (h logSignal) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logSignal{h.Handler.WithAttrs(attrs), h.msg, h.seen}
}

func (h logSignal) WithGroup(name string) slog.Handler {
	return logSignal{h.Handler.WithGroup(name), h.msg, h.seen}
}

var errBlockWrite = errors.New("test: block write failed (I/O error)")

// TestServeReportsLoopFailureWhileStopping: the consensus loop, when told
// to stop, first waits for the background write of synced blocks in
// progress and syncs what it wrote without an fsync; if that fails (a
// disk error during SIGTERM), the node must not exit as though everything
// were on disk. Method: a node served with no RPC, whose loop has a
// background block write in progress that the test ends, with an error,
// only after serve has started shutting down.
func TestServeReportsLoopFailureWhileStopping(t *testing.T) {
	shuttingDown := make(chan struct{})
	logger := slog.New(logSignal{slog.NewTextHandler(io.Discard, nil), "shutting down", shuttingDown})
	n := newServeTestNode(t, logger)
	genesisBlock, _ := ledger.GenesisBlock(n.genesis)
	written := make(chan error)
	n.driver.storing = &storeWrite{writes: []ledger.BlockWrite{{Block: genesisBlock}}, done: written}

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- n.serve(ctx, RunOptions{}) }()
	cancel()
	<-shuttingDown
	written <- errBlockWrite
	if err := <-served; !errors.Is(err, errBlockWrite) {
		t.Fatalf("serve returned %v after the loop's last block write failed, want that failure", err)
	}
}

// TestServeReportsFailedClose: closing the tx journal fsyncs what was
// written since the last fsync; when that fails (a disk error during
// SIGTERM) those writes may be lost, and synod start must exit with the
// error rather than as though all were on disk. Closing again must give
// the same answer without closing anything twice (Pebble panics on a
// second Close). Method: a node served with a journal whose fsyncs fail,
// stopped.
func TestServeReportsFailedClose(t *testing.T) {
	n := newServeTestNode(t, slog.New(slog.DiscardHandler))
	fs := &flakyFS{FS: vfs.NewMem()}
	j, err := openTxJournalFS("journal", fs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.journal = j
	fs.failSync.Store(true)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = n.serve(ctx, RunOptions{})
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "close tx journal") {
		t.Fatalf("serve returned %v when the journal's last fsync failed, want that failure", err)
	}
	if again := n.close(); !errors.Is(again, errDiskFull) {
		t.Fatalf("second close returned %v, want the first one's error", again)
	}
}

// newServeTestNode is a node that serve can run: its own store, pool,
// driver and host, no RPC, no journal; serve closes it.
func newServeTestNode(t *testing.T, logger *slog.Logger) *Node {
	t.Helper()
	g, vals, _ := testGenesis(t, 4, 1)
	store, pool := openTestStoreAndPool(t, g)
	d, err := newDriver(driverConfig{
		Genesis: g, Self: 0, Key: vals[0], Store: store, Net: discardNet{}, Pool: pool,
		Tick: 10 * time.Millisecond, Now: time.Now, EmptyBlockInterval: 100 * time.Millisecond,
		Metrics:  NewMetrics(func() float64 { return 0 }, func() float64 { return 0 }),
		Penalize: func(string, error) {}, Logger: logger,
	})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	n := &Node{genesis: g, log: logger, store: store, pool: pool, driver: d, metrics: d.metrics, events: newBlockFeed(),
		host:   startTestHost(t, g.ChainID, vals[0], nil, p2p.Handlers{}),
		gossip: newGossipBatcher(func([]*ledger.Tx) {}, func() int { return 0 })}
	n.ingress = newTxIngress(pool.AddBatch, func([]*ledger.Tx) func() error { return func() error { return nil } }, func([]*ledger.Tx) {})
	return n
}

// TestDeliverSyncedRefusedOnceTheLoopStopped: block sync runs on its own
// goroutine, bounded only by its run's timeout (a minute), and hands each
// block to the consensus loop; once the loop has stopped (shutdown, or a
// fail-stop), nobody takes them, and the sync must end rather than wait
// on a loop that is gone. Method: stop a driver's loop, then deliver.
func TestDeliverSyncedRefusedOnceTheLoopStopped(t *testing.T) {
	c := newTestCluster(t, 4)
	d := c.drivers[0]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.run(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := ledger.GenesisBlock(c.genesis)
	if err := d.deliverSynced(context.Background(), b, nil); !errors.Is(err, errLoopStopped) {
		t.Fatalf("deliverSynced after the loop stopped: %v, want %v", err, errLoopStopped)
	}
}
