package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// freeBasePort finds a base port whose testnet ports (TCP and UDP) are all
// free on 127.0.0.1 for n nodes. The ports stay in 20000..26599: below the
// kernel's ephemeral range (32768 up), where an outgoing connection could
// take a node's port after the check, below the testnet package's tests
// (27000..31999) and below the default testnet's (26600 up).
func freeBasePort(t testing.TB, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(6000)/TestnetPortsPerNode*TestnetPortsPerNode
		ok := true
		for i := 0; i < n*TestnetPortsPerNode && ok; i++ {
			addr := fmt.Sprintf("127.0.0.1:%d", base+i)
			l, err := net.Listen("tcp", addr)
			if err != nil {
				ok = false
				break
			}
			l.Close()
			u, err := net.ListenPacket("udp", addr)
			if err != nil {
				ok = false
				break
			}
			u.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range on 127.0.0.1")
	return 0
}

// localNet runs generated testnet homes in this process.
type localNet struct {
	t        *testing.T
	nodes    []TestnetNode
	password []byte
	mu       sync.Mutex
	running  map[int]*runningNode
	wallets  []crypto.PrivateKey
	genesis  *ledger.Genesis
	// configure, if set, adjusts node i's config at start.
	configure func(i int, c *Config)
}

type runningNode struct {
	node   *Node
	cancel context.CancelFunc
	done   chan error
}

func newLocalNet(t *testing.T, validators, accounts int) *localNet {
	t.Helper()
	dir := t.TempDir()
	params := ledger.DefaultConsensusParams()
	params.CheckpointInterval, params.WindowHeights, params.ViewChangeTimeoutMs = 4, 8, 1000
	nodes, err := GenerateTestnet(TestnetOptions{Validators: validators, OutDir: dir, ChainID: "it-net",
		BasePort: freeBasePort(t, validators), Accounts: accounts, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	password, err := ReadPasswordFile(filepath.Join(dir, "password.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ln := &localNet{t: t, nodes: nodes, password: password, running: map[int]*runningNode{}}
	ln.wallets = loadWallets(t, dir, password)
	if ln.genesis, err = ledger.ReadGenesisFile(filepath.Join(nodes[0].Home, GenesisFile)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ln.stopAll)
	return ln
}

func (ln *localNet) start(i int) {
	ln.t.Helper()
	r := startTestNode(ln.t, i, ln.nodes[i].Home, ln.password, func(c *Config) {
		if ln.configure != nil {
			ln.configure(i, c)
		}
	})
	ln.mu.Lock()
	ln.running[i] = r
	ln.mu.Unlock()
}

func (ln *localNet) stop(i int) {
	ln.mu.Lock()
	r := ln.running[i]
	delete(ln.running, i)
	ln.mu.Unlock()
	stopTestNode(ln.t, i, r)
}

// startTestNode runs node i from home in this process, with test timings
// (20 ms ticks, no metrics listener) and configure's changes, and returns
// once it serves RPC and runs consensus. SYNOD_TEST_LOGS=1 shows its log.
// loadWallets loads every funded account's key a generated testnet wrote
// to DIR/wallets.
func loadWallets(tb testing.TB, dir string, password []byte) []crypto.PrivateKey {
	tb.Helper()
	ks, err := crypto.OpenKeystore(filepath.Join(dir, "wallets"))
	if err != nil {
		tb.Fatal(err)
	}
	addrs, err := ks.List()
	if err != nil {
		tb.Fatal(err)
	}
	keys := make([]crypto.PrivateKey, 0, len(addrs))
	for _, a := range addrs {
		k, err := ks.Load(a, password)
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

func startTestNode(tb testing.TB, i int, home string, password []byte, configure func(*Config)) *runningNode {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Node, 1)
	done := make(chan error, 1)
	logOut := io.Discard
	if os.Getenv("SYNOD_TEST_LOGS") != "" {
		logOut = os.Stderr
	}
	go func() {
		done <- Run(ctx, RunOptions{Home: home, Password: password, LogOutput: logOut,
			Override: func(c *Config) {
				c.Consensus.TickMs, c.Consensus.EmptyBlockIntervalMs = 20, 200
				c.Metrics.Listen = ""
				if configure != nil {
					configure(c)
				}
			},
			Ready: func(n *Node) { ready <- n }})
	}()
	select {
	case n := <-ready:
		return &runningNode{node: n, cancel: cancel, done: done}
	case err := <-done:
		cancel()
		tb.Fatalf("node %d did not start: %v", i, err)
	case <-time.After(30 * time.Second):
		cancel()
		tb.Fatalf("node %d did not start in 30s", i)
	}
	return nil
}

// stopTestNode stops a node startTestNode started (nil: nothing to do)
// and waits for its Run to return cleanly.
func stopTestNode(tb testing.TB, i int, r *runningNode) {
	if r == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			tb.Errorf("node %d stopped with %v", i, err)
		}
	case <-time.After(30 * time.Second):
		tb.Errorf("node %d did not stop in 30s", i)
	}
}

func (ln *localNet) stopAll() {
	for i := range ln.nodes {
		ln.stop(i)
	}
}

func (ln *localNet) node(i int) *Node {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return ln.running[i].node
}

// waitFor polls cond until it holds or the deadline passes.
func (ln *localNet) waitFor(what string, timeout time.Duration, cond func() bool) {
	ln.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			ln.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (ln *localNet) heights(which ...int) []uint64 {
	var hs []uint64
	for _, i := range which {
		hs = append(hs, ln.node(i).store.Head().Height)
	}
	return hs
}

func minOf(xs []uint64) uint64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = min(m, x)
	}
	return m
}

// TestNodesCommitViewChangeAndCatchUp runs four validators in this process
// on loopback with real libp2p and Pebble: txs submitted to different nodes
// commit in identical blocks everywhere; stopping the primary forces a view
// change after which the rest keep committing; the restarted primary
// catches up.
func TestNodesCommitViewChangeAndCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node integration test; skipped in -short")
	}
	ln := newLocalNet(t, 4, 4)
	all := []int{0, 1, 2, 3}
	for _, i := range all {
		ln.start(i)
	}
	ln.waitFor("height 2 on every node", 30*time.Second, func() bool { return minOf(ln.heights(all...)) >= 2 })

	// Submit transfers to different nodes: wallet w sends to w+1, through node w%4.
	var hashes []crypto.Hash
	for round := 0; round < 3; round++ {
		for w, key := range ln.wallets {
			tx := &ledger.Tx{ChainID: ln.genesis.ChainID, Nonce: uint64(round), To: ln.wallets[(w+1)%len(ln.wallets)].Public().Address(), Amount: 100, Fee: 1}
			tx.Sign(key)
			if err := (backend{ln.node(w % 4)}).SubmitTx(tx); err != nil {
				t.Fatalf("submit to node %d: %v", w%4, err)
			}
			hashes = append(hashes, tx.Hash())
		}
	}
	committedEverywhere := func(which []int) bool {
		for _, i := range which {
			for _, h := range hashes {
				if _, _, err := ln.node(i).store.TxLocation(h); err != nil {
					return false
				}
			}
		}
		return true
	}
	ln.waitFor("every tx committed on every node", 30*time.Second, func() bool { return committedEverywhere(all) })
	assertSameChain(t, ln, all)

	// Stop the primary of the current view.
	view, _ := ln.node(0).driver.view()
	primary := ln.node(0).vals.Primary(view)
	others := without(all, primary)
	before := minOf(ln.heights(others...))
	ln.stop(primary)
	ln.waitFor("a view change and 5 more heights without the primary", 60*time.Second, func() bool {
		v, _ := ln.node(others[0]).driver.view()
		return v > view && minOf(ln.heights(others...)) >= before+5
	})
	assertSameChain(t, ln, others)

	// Restart it: it catches up with the others.
	ln.start(primary)
	target := minOf(ln.heights(others...))
	ln.waitFor("the restarted node to catch up", 60*time.Second, func() bool {
		return ln.node(primary).store.Head().Height >= target
	})
	assertSameChain(t, ln, all)
	assertSupply(t, ln, all)
}

func without(xs []int, x int) []int {
	var out []int
	for _, y := range xs {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

// assertSameChain checks every node has the same block hash at every
// height they all have, and a valid commit certificate for it.
func assertSameChain(t *testing.T, ln *localNet, which []int) {
	t.Helper()
	top := minOf(ln.heights(which...))
	vals, _ := ln.genesis.ValidatorSet()
	for h := uint64(1); h <= top; h++ {
		var want crypto.Hash
		for k, i := range which {
			b, err := ln.node(i).store.BlockByHeight(h)
			if err != nil {
				t.Fatalf("node %d height %d: %v", i, h, err)
			}
			if k == 0 {
				want = b.Hash()
			} else if b.Hash() != want {
				t.Fatalf("node %d has block %s at height %d, node %d has %s", i, b.Hash().Short(), h, which[0], want.Short())
			}
			cert, err := ln.node(i).store.Certificate(h)
			if err != nil {
				t.Fatalf("node %d certificate %d: %v", i, h, err)
			}
			if err := cert.VerifyFor(ln.genesis.ChainID, vals, b); err != nil {
				t.Fatalf("node %d certificate %d: %v", i, h, err)
			}
		}
	}
}

func assertSupply(t *testing.T, ln *localNet, which []int) {
	t.Helper()
	for _, i := range which {
		var total uint64
		for _, w := range ln.wallets {
			a, _ := ln.node(i).store.GetAccount(w.Public().Address())
			total += a.Balance
		}
		for _, v := range ln.genesis.Validators {
			a, _ := ln.node(i).store.GetAccount(v.Address())
			total += a.Balance
		}
		if total != ln.genesis.TotalSupply() {
			t.Fatalf("node %d: balances sum to %d, genesis supply %d", i, total, ln.genesis.TotalSupply())
		}
	}
}

// TestConsensusFramesBoundedByWhatTheNodeDecodes: the host must not carry
// consensus frames larger than any message the node can decode (pbft's
// MessageBytesMax, an OM envelope), since each one is read, queued and
// handed over whole before it is refused. Method: a running node's host
// refuses to send one byte over the bound and takes a message at it.
func TestConsensusFramesBoundedByWhatTheNodeDecodes(t *testing.T) {
	if testing.Short() {
		t.Skip("two-node integration test; skipped in -short")
	}
	_, peer0, _ := startSyncPair(t, 1)
	if consensusFrameBytesMax < pbft.MessageBytesMax || consensusFrameBytesMax < omEnvelopeBytesMax {
		t.Fatalf("frame bound %d below a message the node decodes", consensusFrameBytesMax)
	}
	if err := peer0.host.BroadcastConsensus(make([]byte, consensusFrameBytesMax+1)); !errors.Is(err, p2p.ErrMessageTooLarge) {
		t.Fatalf("a frame over the bound: %v, want ErrMessageTooLarge", err)
	}
	if err := peer0.host.BroadcastConsensus(make([]byte, consensusFrameBytesMax)); err != nil {
		t.Fatalf("a frame at the bound: %v", err)
	}
}
