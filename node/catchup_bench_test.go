package node

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Catch-up benchmark sizes: issue #4's target is 2,000 blocks/s of 100-tx
// blocks.
const (
	catchUpBenchBlocks      = 2000
	catchUpBenchTxsPerBlock = 100
	catchUpBenchAccounts    = 200
)

// BenchmarkCatchUp measures how fast a fresh node catches up from a peer:
// a 4-validator testnet's node0 holds a chain of catchUpBenchBlocks blocks
// of 100 signed transfers with valid commit certificates (written straight
// into its store, not run through consensus); node0 and a fresh node1 run
// as real nodes on 127.0.0.1 (libp2p, Pebble); the clock runs from node1's
// sync request until its head reaches node0's. Two of four validators
// cannot commit, so block sync is all that moves node1.
//
//	go test ./node -run '^$' -bench BenchmarkCatchUp -benchtime 1x -count 3
//
// -cpuprofile also records building the chain; SYNOD_CATCHUP_CPUPROFILE=f
// writes a CPU profile of the timed sync alone to f (f.N for run N > 0).
func BenchmarkCatchUp(b *testing.B) {
	net := newCatchUpNet(b, catchUpBenchAccounts)
	chain := net.buildChain(b, catchUpBenchBlocks, catchUpBenchTxsPerBlock, nil)
	peer0 := net.start(b, 0)
	defer net.stop(b, 0)
	target := peer0.store.Head().Height
	b.ResetTimer()
	b.StopTimer()
	var blocks uint64
	var elapsed, cpu time.Duration
	for i := 0; i < b.N; i++ {
		net.wipe(b, 1)
		n := net.start(b, 1)
		net.waitConnected(b, n, peer0.host.ID())
		stopProfile := profileCatchUp(b, i)
		b.StartTimer()
		start, startCPU, from := time.Now(), processCPU(b), n.store.Head().Height
		n.catchUpFrom(from+1, target, []peer.ID{peer0.host.ID()})
		waitUntil(b, "node1 to catch up", 10*time.Minute, func() bool { return n.store.Head().Height >= target })
		elapsed += time.Since(start)
		cpu += processCPU(b) - startCPU
		blocks += target - from
		b.StopTimer()
		stopProfile()
		if got, _ := n.store.BlockByHeight(target); got == nil || got.Hash() != chain[len(chain)-1].Hash() {
			b.Fatal("node1 synced a different chain")
		}
		net.stop(b, 1)
	}
	b.ReportMetric(float64(blocks)/elapsed.Seconds(), "blocks/s")
	b.ReportMetric(float64(blocks*catchUpBenchTxsPerBlock)/elapsed.Seconds(), "txs/s")
	// CPU per block (both nodes, this process) varies less between runs
	// on a shared machine than the rate does, which also moves with how
	// much CPU the machine gives: compare builds by it, in alternating runs.
	b.ReportMetric(float64(cpu.Microseconds())/float64(blocks), "cpu-µs/block")
}

// profileCatchUp starts a CPU profile of run i's sync if
// SYNOD_CATCHUP_CPUPROFILE names a file, and returns its stop.
func profileCatchUp(tb testing.TB, i int) func() {
	path := os.Getenv("SYNOD_CATCHUP_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	if i > 0 {
		path = fmt.Sprintf("%s.%d", path, i)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		tb.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// catchUpNet is a generated testnet whose nodes run in this process; only
// some of them are ever started.
type catchUpNet struct {
	nodes    []TestnetNode
	password []byte
	genesis  *ledger.Genesis
	valKeys  []crypto.PrivateKey
	wallets  []crypto.PrivateKey
	// configure, if set, adjusts every node's config at start.
	configure func(*Config)
	mu        sync.Mutex
	running   map[int]*runningNode
}

func newCatchUpNet(tb testing.TB, accounts int) *catchUpNet {
	tb.Helper()
	dir := tb.TempDir()
	nodes, err := GenerateTestnet(TestnetOptions{Validators: 4, OutDir: dir, ChainID: "catchup-net",
		BasePort: freeBasePort(tb, 4), Accounts: accounts, Params: ledger.DefaultConsensusParams()})
	if err != nil {
		tb.Fatal(err)
	}
	// The store's default memtable, not the staggered sizes a generated
	// testnet gives its nodes: catch-up measures what an operator runs.
	c := &catchUpNet{nodes: nodes, running: map[int]*runningNode{},
		configure: func(cfg *Config) { cfg.Store.MemTableMiB = ledger.DefaultMemTableBytes >> 20 }}
	if c.password, err = ReadPasswordFile(filepath.Join(dir, "password.txt")); err != nil {
		tb.Fatal(err)
	}
	if c.genesis, err = ledger.ReadGenesisFile(filepath.Join(nodes[0].Home, GenesisFile)); err != nil {
		tb.Fatal(err)
	}
	for _, n := range nodes {
		keys, err := LoadKeys(n.Home, c.password)
		if err != nil {
			tb.Fatal(err)
		}
		c.valKeys = append(c.valKeys, keys.Validator)
	}
	c.wallets = loadWallets(tb, dir, c.password)
	tb.Cleanup(func() {
		for i := range c.nodes {
			c.stop(tb, i)
		}
	})
	return c
}

// openStore opens node0's ledger (not running), initialised with the
// network's genesis.
func (c *catchUpNet) openStore(tb testing.TB) *ledger.Store {
	tb.Helper()
	store, err := ledger.OpenStore(filepath.Join(c.nodes[0].Home, DataDir, "ledger"), ledger.StoreOptions{ChainID: c.genesis.ChainID})
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.InitGenesis(c.genesis); err != nil {
		store.Close()
		tb.Fatal(err)
	}
	return store
}

// chainTamper, if set, may spoil the block at a height after it is built
// and before it is certified (a bad tx) or after (a bad certificate).
type chainTamper struct {
	height uint64
	// tx replaces the block's first tx's signature with a wrong one.
	tx bool
	// cert breaks one signature of the block's certificate.
	cert bool
}

// buildChain writes blocks of txsPerBlock signed transfers, each with a
// certificate signed by a quorum of validators, into node0's store, and
// returns them. The blocks are built and validated as a primary would,
// but without consensus.
func (c *catchUpNet) buildChain(tb testing.TB, blocks, txsPerBlock int, tamper *chainTamper) []*ledger.Block {
	tb.Helper()
	store := c.openStore(tb)
	defer store.Close()
	txs := c.signTransfers(tb, blocks, txsPerBlock)
	// Building skips signature checks: the txs were signed just now (and a
	// spoiled one must get into its block).
	sigs := ledger.NewSigCache(max(1, blocks*txsPerBlock))
	for _, tx := range txs {
		sigs.Add(tx.Hash())
	}
	chain := ledger.NewPendingChain(c.genesis.ChainID, c.genesis.Consensus, store.Head(), store)
	chain.SetSigCache(sigs)
	vals, err := c.genesis.ValidatorSet()
	if err != nil {
		tb.Fatal(err)
	}
	proposer := c.valKeys[0].Public().Address()
	var out []*ledger.Block
	var built []*ledger.Block // pending, not yet committed and stored
	var certs []*ledger.CommitCertificate
	// Blocks are built on pending parents and stored 32 at a time: the
	// pending chain's state is its store plus the pending diffs, so each
	// block is committed only when the store takes it.
	flush := func() {
		writes := make([]ledger.BlockWrite, len(built))
		for j, blk := range built {
			_, diff, err := chain.Commit(blk.Hash())
			if err != nil {
				tb.Fatal(err)
			}
			writes[j] = ledger.BlockWrite{Block: blk, Certificate: certs[j], Diff: diff}
		}
		if err := store.ApplyBlocks(writes); err != nil {
			tb.Fatal(err)
		}
		built, certs = built[:0], certs[:0]
	}
	parent := store.Head()
	for i := 0; i < blocks; i++ {
		height := parent.Height + 1
		candidates := txs[i*txsPerBlock : (i+1)*txsPerBlock]
		if tamper != nil && tamper.tx && tamper.height == height {
			candidates[0].Signature[0] ^= 1
			sigs.Add(candidates[0].Hash())
		}
		blk, err := chain.Build(parent.Hash(), 0, proposer, parent.Timestamp+1, candidates)
		if err != nil {
			tb.Fatal(err)
		}
		if len(blk.Txs) != txsPerBlock {
			tb.Fatalf("block %d holds %d of %d txs", height, len(blk.Txs), txsPerBlock)
		}
		cert := c.certify(blk, vals.Quorum())
		if tamper != nil && tamper.cert && tamper.height == height {
			cert.Signatures[1].Signature[0] ^= 1
		}
		built, certs = append(built, blk), append(certs, cert)
		out = append(out, blk)
		parent = blk.Header
		if len(built) == 32 {
			flush()
		}
	}
	flush()
	return out
}

// certify signs b's commit vote with the first quorum validators.
func (c *catchUpNet) certify(b *ledger.Block, quorum int) *ledger.CommitCertificate {
	cert := &ledger.CommitCertificate{Height: b.Height(), View: 0, BlockHash: b.Hash()}
	msg := ledger.CommitVoteBytes(cert.Height, cert.View, cert.BlockHash)
	for v := 0; v < quorum; v++ {
		cert.Signatures = append(cert.Signatures, ledger.CommitSignature{Validator: uint16(v),
			Signature: c.valKeys[v].Sign(crypto.DomainConsensus, c.genesis.ChainID, msg)})
	}
	return cert
}

// signTransfers signs blocks*txsPerBlock transfers: the txs of block i come
// from consecutive wallets (round robin), each paying the next wallet,
// with nonces in order. Signing runs on every core.
func (c *catchUpNet) signTransfers(tb testing.TB, blocks, txsPerBlock int) []*ledger.Tx {
	tb.Helper()
	n := len(c.wallets)
	if txsPerBlock > n {
		tb.Fatalf("%d txs per block need as many wallets, have %d", txsPerBlock, n)
	}
	txs := make([]*ledger.Tx, blocks*txsPerBlock)
	nonces := make([]uint64, n)
	for i := range txs {
		w := i % n
		txs[i] = &ledger.Tx{ChainID: c.genesis.ChainID, Nonce: nonces[w], To: c.wallets[(w+1)%n].Public().Address(), Amount: 1, Fee: 1}
		nonces[w]++
	}
	workers := 2
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(txs); i += workers {
				txs[i].Sign(c.wallets[i%n])
			}
		}()
	}
	wg.Wait()
	return txs
}

// start runs node i until stop; it returns once the node serves.
func (c *catchUpNet) start(tb testing.TB, i int) *Node {
	tb.Helper()
	r := startTestNode(tb, i, c.nodes[i].Home, c.password, c.configure)
	c.mu.Lock()
	c.running[i] = r
	c.mu.Unlock()
	return r.node
}

func (c *catchUpNet) stop(tb testing.TB, i int) {
	c.mu.Lock()
	r := c.running[i]
	delete(c.running, i)
	c.mu.Unlock()
	stopTestNode(tb, i, r)
}

// wipe deletes node i's data: it starts again from genesis.
func (c *catchUpNet) wipe(tb testing.TB, i int) {
	tb.Helper()
	if err := os.RemoveAll(filepath.Join(c.nodes[i].Home, DataDir)); err != nil {
		tb.Fatal(err)
	}
}

// waitConnected waits until n has a connection to p.
func (c *catchUpNet) waitConnected(tb testing.TB, n *Node, p peer.ID) {
	tb.Helper()
	waitUntil(tb, "a connection to the peer", 30*time.Second, func() bool { return slices.Contains(n.host.Peers(), p) })
}

// waitUntil polls cond every few milliseconds until it holds or timeout.
func waitUntil(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
