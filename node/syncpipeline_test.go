package node

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// syncedChain builds a small certified chain on node0 of net and reads it
// back as block sync would serve it.
func syncedChain(t *testing.T, net *catchUpNet, blocks, txs int, tamper *chainTamper) []p2p.SyncedBlock {
	t.Helper()
	built := net.buildChain(t, blocks, txs, tamper)
	store := net.openStore(t)
	defer store.Close()
	out := make([]p2p.SyncedBlock, len(built))
	for i, b := range built {
		cert, err := store.Certificate(b.Height())
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p2p.SyncedBlock{Block: b, Certificate: cert}
	}
	return out
}

// TestCheckAheadStopsAtBadCertificate checks stage 2 of block sync on its
// own: the blocks before a block with a spoiled certificate are recorded
// as vouched for, nothing of that block or after it is, and no tx hash is.
// A certified block with a bad tx signature is vouched for all the same,
// unless sync.verify_tx_signatures asks for every signature to be
// verified: then no block is vouched for, the txs whose signatures verify
// are recorded, and the bad one never is.
func TestCheckAheadStopsAtBadCertificate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tamper   chainTamper
		verify   bool
		wantGood int
	}{
		{"bad certificate at height 3", chainTamper{height: 3, cert: true}, false, 2},
		{"bad certificate at height 3, verifying", chainTamper{height: 3, cert: true}, true, 2},
		{"certified bad tx signature at height 2", chainTamper{height: 2, tx: true}, false, 4},
		{"certified bad tx signature at height 2, verifying", chainTamper{height: 2, tx: true}, true, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newCatchUpNet(t, 6)
			chain := syncedChain(t, net, 4, 6, &tc.tamper)
			vals, err := net.genesis.ValidatorSet()
			if err != nil {
				t.Fatal(err)
			}
			n := &Node{genesis: net.genesis, vals: vals, sigs: ledger.NewSigCache(1000),
				certs: certVerifier{pbft.Ed25519Verifier{Validators: vals, ChainID: net.genesis.ChainID}, ledger.NewSigCache(16), nil}}
			n.cfg.Sync.VerifyTxSignatures = tc.verify
			good, err := n.checkAhead(chain)
			if good != tc.wantGood || (err != nil) != tc.tamper.cert {
				t.Fatalf("checkAhead passed %d blocks with %v, want %d", good, err, tc.wantGood)
			}
			for i, sb := range chain {
				if got, want := n.sigs.Vouched(sb.Block.Hash()), i < good && !tc.verify; got != want {
					t.Fatalf("block %d: vouched for %v, want %v", sb.Block.Height(), got, want)
				}
				for j, tx := range sb.Block.Txs {
					spoiled := tc.tamper.tx && sb.Block.Height() == tc.tamper.height && j == 0
					want := i < good && tc.verify && !spoiled
					if got := n.sigs.Contains(tx.Hash()); got != want {
						t.Fatalf("block %d tx %d: recorded %v, want %v", sb.Block.Height(), j, got, want)
					}
				}
			}
		})
	}
}

// TestVerifyTxSigsOnWorkers checks that splitting stage 2's signature
// batch among goroutines records exactly the valid signatures, whatever
// the number of workers (more workers than blocks included).
func TestVerifyTxSigsOnWorkers(t *testing.T) {
	net := newCatchUpNet(t, 6)
	chain := syncedChain(t, net, 5, 6, &chainTamper{height: 4, tx: true})
	for _, workers := range []int{1, 2, 3, 8} {
		cache := ledger.NewSigCache(1000)
		verifyTxSigsOn(workers, chain, cache)
		for _, sb := range chain {
			for j, tx := range sb.Block.Txs {
				want := sb.Block.Height() != 4 || j != 0
				if got := cache.Contains(tx.Hash()); got != want {
					t.Fatalf("%d workers: block %d tx %d recorded %v, want %v", workers, sb.Block.Height(), j, got, want)
				}
			}
		}
	}
}

// TestSyncAheadBudget checks the bound on txs verified ahead of the store:
// a chunk that does not fit waits (here until its context ends), one that
// fits or comes when nothing is ahead goes at once, and blocks the store
// holds stop counting.
func TestSyncAheadBudget(t *testing.T) {
	net := newCatchUpNet(t, 1)
	store := net.openStore(t)
	defer store.Close()
	block := func(height uint64, txs int) *ledger.Block {
		return &ledger.Block{Header: ledger.Header{Height: height}, Txs: make([]*ledger.Tx, txs)}
	}
	a := syncAhead{store: store, budget: 10}
	if !a.wait(context.Background(), 100) {
		t.Fatal("a chunk over the budget waited with nothing ahead")
	}
	a.delivered(block(0, 8)) // at the head: stored already
	if !a.wait(context.Background(), 6) || a.txs != 0 {
		t.Fatalf("a stored block still counts: %d txs ahead", a.txs)
	}
	a.delivered(block(1, 6))
	if !a.wait(context.Background(), 4) {
		t.Fatal("a chunk that fits waited")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if a.wait(ctx, 5) {
		t.Fatal("a chunk over the budget went ahead of the store")
	}
}

// TestCatchUpRefusesSpoiledBlock runs block sync between two real nodes:
// a fresh node syncs a certified chain fully, and stops just below a
// block with a spoiled certificate, never applying it. A certified block
// with a bad tx signature is what only more than f Byzantine validators
// could produce: by default the node trusts its certificate and applies
// it; with sync.verify_tx_signatures it stops below it.
func TestCatchUpRefusesSpoiledBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("two-node integration test; skipped in -short")
	}
	const blocks, txs = 12, 8
	for _, tc := range []struct {
		name   string
		tamper *chainTamper
		verify bool
		refuse bool
	}{
		{"valid chain", nil, false, false},
		{"valid chain, verifying", nil, true, false},
		{"bad certificate", &chainTamper{height: 6, cert: true}, false, true},
		{"certified bad tx signature", &chainTamper{height: 6, tx: true}, false, false},
		{"certified bad tx signature, verifying", &chainTamper{height: 6, tx: true}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newCatchUpNet(t, txs)
			net.configure = func(c *Config) { c.Sync.VerifyTxSignatures = tc.verify }
			chain := net.buildChain(t, blocks, txs, tc.tamper)
			want := uint64(blocks)
			if tc.refuse {
				want = tc.tamper.height - 1
			}
			peer0 := net.start(t, 0)
			n := net.start(t, 1)
			net.waitConnected(t, n, peer0.host.ID())
			n.catchUpFrom(1, blocks, []peer.ID{peer0.host.ID()})
			waitUntil(t, "the sync to end", 60*time.Second, func() bool {
				return n.store.Head().Height >= want && !n.isSyncing() && len(n.driver.synced) == 0
			})
			// A round trip through the loop: it has handled every block
			// it took from the queue.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if n.driver.consensusState(ctx) == "" {
				t.Fatal("the consensus loop does not answer")
			}
			if got := n.store.Head().Height; got != want {
				t.Fatalf("head %d, want %d", got, want)
			}
			// Every stored block is announced (mempool, metrics, RPC),
			// the last batch too, though nothing else happens after it.
			waitUntil(t, "the synced blocks to be announced", 1500*time.Millisecond, func() bool {
				return n.driver.committedTxs.Load() == want*txs
			})
			for _, b := range chain[:want] {
				got, err := n.store.BlockByHeight(b.Height())
				if err != nil || got.Hash() != b.Hash() {
					t.Fatalf("block %d differs from the peer's: %v", b.Height(), err)
				}
			}
			if got, want := n.store.StateHash().Root(), chain[want-1].Header.StateRoot; got != want {
				t.Fatalf("state root %s, want %s", got.Short(), want.Short())
			}
			if tc.refuse && tc.tamper.tx {
				if n.sigs.Contains(chain[want].Txs[0].Hash()) {
					t.Fatal("the bad signature was recorded as verified")
				}
			}
		})
	}
}

// stallingSource is a hostile peer's block source: it claims a head far
// above everyone's, or with mute never tells it, and never serves a block
// (until released).
type stallingSource struct {
	release chan struct{}
	mute    bool
}

func (s stallingSource) Head() ledger.Header {
	if s.mute {
		<-s.release
	}
	return ledger.Header{Height: 1 << 40}
}

func (s stallingSource) EncodedBlock(uint64) ([]byte, error) {
	<-s.release
	return nil, errors.New("released")
}

func (s stallingSource) EncodedCertificate(uint64) ([]byte, error) {
	return nil, errors.New("no certificate")
}

// TestCatchUpPastStallingPeer: a peer that claims the highest head and
// then answers no block request must not keep an honest node from
// catching up from the peers that serve. Method: a fresh node connected
// to a peer holding a certified chain and to a host with a validator's
// node key (a Byzantine validator) that claims height 2^40 and stalls
// every block request; the node's idle watch (watchPeers) must bring it
// to the honest peer's head, well within one SyncTimeout of the host.
func TestCatchUpPastStallingPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("two-node integration test; skipped in -short")
	}
	const blocks = 12
	net, peer0, n := startSyncPair(t, blocks)
	keys2, err := LoadKeys(net.nodes[2].Home, net.password)
	if err != nil {
		t.Fatal(err)
	}
	liar := startStallingPeer(t, net, n, keys2.Node, false)
	net.waitConnected(t, n, liar.ID())

	waitUntil(t, "the node to catch up past the stalling peer", 40*time.Second, func() bool {
		return n.store.Head().Height >= blocks
	})
	if n.host.Blocked(peer0.host.ID()) {
		t.Fatal("the honest peer was blocked")
	}
}

// TestCatchUpAsksValidatorsFirst: only validators run Synod (open refuses
// a key outside the genesis set), so any other peer that claims a head is
// a stranger, and a cheap one to multiply: strangers that claim the
// highest head and stall must not cost the sync a request timeout while a
// validator serves. Method: as TestCatchUpPastStallingPeer with three
// stalling hosts; the node must catch up well within syncRequestTimeout.
func TestCatchUpAsksValidatorsFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("two-node integration test; skipped in -short")
	}
	const blocks = 12
	net, _, n := startSyncPair(t, blocks)
	for range 3 {
		key, err := crypto.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		liar := startStallingPeer(t, net, n, key, false)
		net.waitConnected(t, n, liar.ID())
	}
	waitUntil(t, "the node to catch up from the validator", syncRequestTimeout-5*time.Second, func() bool {
		return n.store.Head().Height >= blocks
	})
}

// startSyncPair builds a chain of blocks 8-tx blocks into node0's store
// and starts node0 and a fresh node1 connected to it.
func startSyncPair(t *testing.T, blocks int) (net *catchUpNet, peer0, n *Node) {
	t.Helper()
	net = newCatchUpNet(t, 8)
	net.buildChain(t, blocks, 8, nil)
	peer0 = net.start(t, 0)
	n = net.start(t, 1)
	net.waitConnected(t, n, peer0.host.ID())
	return net, peer0, n
}

// startStallingPeer starts a host with node key key serving
// stallingSource and connected to n; it stops with the test.
func startStallingPeer(t *testing.T, net *catchUpNet, n *Node, key crypto.PrivateKey, mute bool) *p2p.Host {
	t.Helper()
	src := stallingSource{release: make(chan struct{}), mute: mute}
	liar := startTestHost(t, net.genesis.ChainID, key, n.host, p2p.Handlers{Blocks: src})
	t.Cleanup(func() {
		close(src.release) // before Close, which waits for the stalled handlers
		liar.Close()
	})
	return liar
}

// TestIdleWatchAsksOnlyValidators: the idle watch asks peers for their
// heads one at a time, each for up to a second, before it starts a sync;
// strangers that never answer must not hold it back (only validators run
// a node). Method: as TestCatchUpAsksValidatorsFirst with six strangers
// that never tell their head; the node must catch up sooner than asking
// all of them would allow.
func TestIdleWatchAsksOnlyValidators(t *testing.T) {
	if testing.Short() {
		t.Skip("two-node integration test; skipped in -short")
	}
	const blocks, strangers = 12, 6
	net, _, n := startSyncPair(t, blocks)
	for range strangers {
		key, err := crypto.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		liar := startStallingPeer(t, net, n, key, true)
		net.waitConnected(t, n, liar.ID())
	}
	waitUntil(t, "the node to catch up from the validator", peerPollInterval+strangers*peerPollInterval/2-time.Second, func() bool {
		return n.store.Head().Height >= blocks
	})
}

// tricklingSource is a Byzantine validator's block source: it claims a
// head far above everyone's and serves the real chain, one block per
// request, each after a delay short of any timeout.
type tricklingSource struct {
	chainSource // its blocks and certificates
	delay       time.Duration
	mu          sync.Mutex
	served      bool // this request has its block
}

func (s *tricklingSource) Head() ledger.Header { return ledger.Header{Height: 1 << 40} }

func (s *tricklingSource) EncodedBlock(h uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served {
		s.served = false
		return nil, errors.New("one block per request")
	}
	b, err := s.chainSource.EncodedBlock(h)
	if err == nil {
		time.Sleep(s.delay)
		s.served = true
	}
	return b, err
}

// TestCatchUpPastTricklingValidator: a Byzantine validator that claims the
// highest head, then answers every request in time but with one block,
// must not set the pace of an honest node's catch-up. Method: node 1
// catches up a 40-block chain from node 0 while a host with validator 2's
// node key serves the same chain one block per request, a second each;
// asking it first for every batch would take 40 s.
func TestCatchUpPastTricklingValidator(t *testing.T) {
	if testing.Short() {
		t.Skip("two-node integration test; skipped in -short")
	}
	const blocks = 40
	net := newCatchUpNet(t, 8)
	chain := syncedChain(t, net, blocks, 2, nil)
	peer0 := net.start(t, 0)
	n := net.start(t, 1)
	net.waitConnected(t, n, peer0.host.ID())
	startValidatorSource(t, net, n, 2, &tricklingSource{chainSource: chainSource{chain: chain}, delay: time.Second})
	waitUntil(t, "the node to catch up", 15*time.Second, func() bool { return n.store.Head().Height >= blocks })
}

// chainSource serves a certified chain, as an honest peer's store would.
type chainSource struct {
	chain []p2p.SyncedBlock // chain[i] is height i+1
}

func (s chainSource) Head() ledger.Header { return s.chain[len(s.chain)-1].Block.Header }

func (s chainSource) EncodedBlock(h uint64) ([]byte, error) {
	if h == 0 || h > uint64(len(s.chain)) {
		return nil, errors.New("no such block")
	}
	return s.chain[h-1].Block.Encode(), nil
}

func (s chainSource) EncodedCertificate(h uint64) ([]byte, error) {
	if h == 0 || h > uint64(len(s.chain)) {
		return nil, errors.New("no such certificate")
	}
	return s.chain[h-1].Certificate.Encode(), nil
}

// TestSyncRunGoesOnPastUncertifiedBlock: a Byzantine validator whose turn
// it is to serve a batch serves it with a broken certificate. The run must
// penalize it and fetch those heights again from the others, rather than
// end and leave the node behind until another run. Method: one run
// (syncRange, with the idle watch kept out) over a 12-block chain, asking
// the Byzantine validator first and node 0 second; the node must reach the
// chain's head from that run alone.
func TestSyncRunGoesOnPastUncertifiedBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("two-node integration test; skipped in -short")
	}
	const blocks = 12
	net := newCatchUpNet(t, 8)
	chain := syncedChain(t, net, blocks, 8, nil)
	forged := slices.Clone(chain)
	cert := *forged[0].Certificate
	cert.Signatures = slices.Clone(cert.Signatures)
	cert.Signatures[1].Signature[0] ^= 1
	forged[0].Certificate = &cert
	peer0 := net.start(t, 0)
	n := net.start(t, 1)
	net.waitConnected(t, n, peer0.host.ID())
	byz := startValidatorSource(t, net, n, 2, chainSource{chain: forged})

	n.syncMu.Lock()
	if n.syncing {
		n.syncMu.Unlock()
		t.Fatal("a sync run started before the test's")
	}
	n.syncing = true // keeps the idle watch from starting a run of its own
	n.syncMu.Unlock()
	n.syncRange(context.Background(), 1, blocks, []peer.ID{byz.ID(), peer0.host.ID()})
	waitUntil(t, "the synced blocks to be stored", 20*time.Second, func() bool {
		return n.store.Head().Height >= blocks
	})
	if got := n.store.Head().Hash(); got != chain[blocks-1].Block.Hash() {
		t.Fatalf("head %s, want %s", got.Short(), chain[blocks-1].Block.Hash().Short())
	}
}

// startValidatorSource starts a host with validator i's node key serving
// src and connected to n (a Byzantine validator's block source); it stops
// with the test.
func startValidatorSource(t *testing.T, net *catchUpNet, n *Node, i int, src p2p.BlockSource) *p2p.Host {
	t.Helper()
	keys, err := LoadKeys(net.nodes[i].Home, net.password)
	if err != nil {
		t.Fatal(err)
	}
	h := startTestHost(t, net.genesis.ChainID, keys.Node, n.host, p2p.Handlers{Blocks: src})
	t.Cleanup(func() { h.Close() })
	net.waitConnected(t, n, h.ID())
	return h
}
