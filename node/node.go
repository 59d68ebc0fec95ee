package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/mempool"
	"github.com/synod-chain/synod/p2p"
	"github.com/synod-chain/synod/rpc"
)

// Timings of the node's background duties.
const (
	// rebroadcastInterval: a pending tx is gossiped again once it has gone
	// this long without being gossiped; the pool is asked every
	// rebroadcastTick, so a tx is first due between one interval and one
	// interval plus a tick after it arrived (see Mempool.ForRebroadcast).
	rebroadcastInterval = 2 * time.Second
	rebroadcastTick     = time.Second
	// rebroadcastTxsPerTick bounds the txs gossiped again per tick (the
	// pool's RebroadcastTxsMax): 500 a second, as 1,000 every 2 s when
	// the pool was asked every 2 s.
	rebroadcastTxsPerTick = 500
	shutdownTimeout       = 10 * time.Second
	syncBatchBlocks       = 128
	// verifiedCertsMax: certificates remembered as verified; block sync
	// is at most deliveredBlocksMax plus a few fetched batches ahead of
	// the loop, and a miss only costs a second verification.
	verifiedCertsMax = 4096
)

// ErrNotValidator is returned when the node's validator key is not in the
// genesis validator set.
var ErrNotValidator = errors.New("node: validator key is not in the genesis validator set")

// RunOptions configure Run.
type RunOptions struct {
	Home     string
	Password []byte
	// Override adjusts the loaded config (command-line flags).
	Override func(*Config)
	// LogOutput receives the logs; nil means stderr.
	LogOutput io.Writer
	// Ready, if set, is called once the node serves RPC and runs consensus.
	Ready func(*Node)
}

// Node is a running validator.
type Node struct {
	cfg     Config
	genesis *ledger.Genesis
	vals    *ledger.ValidatorSet
	certs   certVerifier // block sync's, sharing its memory with the replica's
	self    uint16
	log     *slog.Logger
	store   *ledger.Store
	pool    *mempool.Mempool
	host    *p2p.Host
	driver  *driver
	metrics *Metrics
	events  *blockFeed
	sigs    *ledger.SigCache
	journal *txJournal
	ingress *txIngress
	// txsArrived wakes the consensus loop when the mempool takes txs.
	txsArrived chan struct{}
	gossip     *gossipBatcher
	peerOf     []peer.ID // validator index → peer id, from genesis
	startedAt  time.Time

	syncMu  sync.Mutex
	syncing bool

	// storeReaders admits the reads of the store from outside the
	// consensus loop until close.
	storeReaders storeGate
	closeOnce    sync.Once
	closeErr     error
}

// Run starts a node from its home and serves until ctx ends, then shuts
// down gracefully: RPC stops taking requests, the consensus loop finishes
// its current Ready (so everything acknowledged is on disk), the network
// and the stores close. A failure of any of that is returned: the
// daemon must not exit as if all were on disk.
func Run(ctx context.Context, opts RunOptions) error {
	n, err := open(ctx, opts)
	if err != nil {
		return err
	}
	return n.serve(ctx, opts)
}

func open(ctx context.Context, opts RunOptions) (_ *Node, err error) {
	cfg, err := LoadConfig(opts.Home)
	if err != nil {
		return nil, err
	}
	if opts.Override != nil {
		opts.Override(&cfg)
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	}
	logger, err := newLogger(cfg.Log, opts.LogOutput)
	if err != nil {
		return nil, err
	}
	g, err := ledger.ReadGenesisFile(filepath.Join(opts.Home, GenesisFile))
	if err != nil {
		return nil, err
	}
	if err := cfg.Consensus.CheckTiming(g.Consensus); err != nil {
		return nil, err
	}
	keys, err := LoadKeys(opts.Home, opts.Password)
	if err != nil {
		return nil, err
	}
	vals, err := g.ValidatorSet()
	if err != nil {
		return nil, err
	}
	self, ok := vals.IndexOf(keys.Validator.Public())
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotValidator, keys.Validator.Public())
	}
	n := &Node{cfg: cfg, genesis: g, vals: vals, self: uint16(self), log: logger.With("node", cfg.Moniker),
		events: newBlockFeed(), startedAt: time.Now(), txsArrived: make(chan struct{}, 1), sigs: ledger.NewSigCache(2 * cfg.Mempool.TxsMax)}
	n.certs = certVerifier{pbft.Ed25519Verifier{Validators: vals, ChainID: g.ChainID}, ledger.NewSigCache(verifiedCertsMax), nil}
	closeOnErr := func(what string, c io.Closer) {
		if err == nil {
			return
		}
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close %s: %w", what, cerr))
		}
	}
	if n.peerOf, err = validatorPeers(g); err != nil {
		return nil, err
	}
	if n.store, err = ledger.OpenStore(filepath.Join(opts.Home, DataDir, "ledger"), ledger.StoreOptions{ChainID: g.ChainID, Logger: n.log, MemTableBytes: cfg.Store.MemTableBytes(), PruneHistory: cfg.Store.PruneHistory}); err != nil {
		return nil, err
	}
	defer closeOnErr("ledger store", n.store)
	if err = n.store.InitGenesis(g); err != nil {
		return nil, err
	}
	if err = importLegacyWAL(filepath.Join(opts.Home, DataDir, legacyWALDir), n.store, n.log); err != nil {
		return nil, err
	}
	mcfg := cfg.Mempool.poolConfig(g.ChainID)
	mcfg.SigCache = n.sigs // verified once at admission, not again in blocks
	mcfg.RebroadcastTxsMax = rebroadcastTxsPerTick
	if n.pool, err = mempool.New(mcfg, n.store); err != nil {
		return nil, err
	}
	n.metrics = NewMetrics(func() float64 { txs, _ := n.pool.Size(); return float64(txs) }, func() float64 {
		if n.host == nil {
			return 0
		}
		return float64(len(n.host.Peers()))
	})
	n.metrics.registerStore(n.storeStats)
	observeJournal := func(took time.Duration) { n.metrics.observeDiskWrite(diskLogJournal, took) }
	if n.journal, err = openTxJournal(filepath.Join(opts.Home, DataDir, "mempool"), n.log, observeJournal); err != nil {
		return nil, err
	}
	defer closeOnErr("tx journal", n.journal)
	kept, dropped, err := n.journal.replay(n.pool.Add)
	if err != nil {
		return nil, fmt.Errorf("replay tx journal: %w", err)
	}
	if kept+dropped > 0 {
		n.log.Info("tx journal replayed", "pending", kept, "dropped", dropped)
	}
	// Past twice what the mempool holds, at least half the journal is txs
	// gone from it: sweeping then costs a lookup or two per write.
	n.journal.limitHeld(2*mcfg.TxsMax, func(h crypto.Hash) bool { _, ok := n.pool.Get(h); return ok })
	if err = n.startHost(ctx, cfg, keys); err != nil {
		return nil, err
	}
	defer closeOnErr("p2p host", n.host)
	n.metrics.registerP2P(n.host.Stats)
	n.gossip = newGossipBatcher(func(txs []*ledger.Tx) {
		if err := n.host.PublishTxs(txs); err != nil {
			// The txs are pending here and will be re-gossiped; the
			// wallets' submissions succeeded.
			n.log.Debug("publish txs", "txs", len(txs), "err", err)
		}
	}, func() int { txs, _ := n.pool.Size(); return txs })
	n.ingress = newTxIngress(n.pool.AddBatch, n.journal.write, func(txs []*ledger.Tx) {
		signal(n.txsArrived)
		n.gossip.add(txs)
	})
	n.driver, err = newDriver(driverConfig{
		Genesis: g, Self: n.self, Key: keys.Validator, Store: n.store,
		Net: validatorNet{host: n.host, peers: n.peerOf, self: int(n.self)}, Pool: n.pool,
		Tick: cfg.Tick(), Now: time.Now, Metrics: n.metrics, Logger: n.log,
		Observer:           n.committed,
		Penalize:           n.penalize,
		CatchUp:            n.catchUp,
		SigCache:           n.sigs,
		VerifiedCerts:      n.certs.verified,
		TxsArrived:         n.txsArrived,
		EmptyBlockInterval: time.Duration(cfg.Consensus.EmptyBlockIntervalMs) * time.Millisecond,
		Byzantine:          cfg.Testing.Byzantine,
		OMVerify:           cfg.OMVerify,
		OMCorruptState:     cfg.Testing.OMCorruptState,
	})
	if err != nil {
		return nil, err
	}
	n.admitValidators()
	return n, nil
}

// validatorPeers reads each validator's peer id from the /p2p/ part of its
// genesis net address; a validator without one cannot be sent to directly
// (broadcast still reaches it). Two validators may not name one peer: what
// is sent to one would reach the other.
func validatorPeers(g *ledger.Genesis) ([]peer.ID, error) {
	ids := make([]peer.ID, len(g.Validators))
	first := make(map[peer.ID]int, len(g.Validators))
	for i, v := range g.Validators {
		if v.NetAddress == "" {
			continue
		}
		addr, err := ma.NewMultiaddr(v.NetAddress)
		if err != nil {
			return nil, fmt.Errorf("genesis validator %d net address: %w", i, err)
		}
		info, err := peer.AddrInfoFromP2pAddr(addr)
		if err != nil {
			return nil, fmt.Errorf("genesis validator %d net address: %w", i, err)
		}
		if j, dup := first[info.ID]; dup {
			return nil, fmt.Errorf("genesis validators %d and %d share peer id %s in their net addresses", j, i, info.ID)
		}
		first[info.ID] = i
		ids[i] = info.ID
	}
	return ids, nil
}

// consensusFrameBytesMax bounds a frame of the consensus transport by the
// largest message the node decodes from it, a pbft message or an OM(m)
// envelope: p2p's own default (32 MiB) would have the host read, queue and
// hand over frames that pbft.Decode then refuses unread.
const consensusFrameBytesMax = max(pbft.MessageBytesMax, omEnvelopeBytesMax)

// hostConfig is the p2p host's config: the node's settings, and from
// genesis the chain id and the validator set's size (block sync serves
// more requests at once for a larger set, so its f Byzantine validators
// cannot hold every slot).
func (n *Node) hostConfig(cfg Config, keys HomeKeys) p2p.Config {
	pcfg := p2p.DefaultConfig()
	pcfg.ChainID = n.genesis.ChainID
	pcfg.Key = keys.Node
	pcfg.ListenAddrs = cfg.P2P.Listen
	pcfg.PersistentPeers = cfg.P2P.PersistentPeers
	pcfg.TxMeshDegree = cfg.P2P.TxMeshDegree
	pcfg.SyncServeBytesMax = cfg.P2P.SyncServeBytesMax
	pcfg.ConsensusMessageBytesMax = consensusFrameBytesMax
	pcfg.ValidatorCount = len(n.genesis.Validators)
	pcfg.Logger = n.log
	return pcfg
}

func (n *Node) startHost(ctx context.Context, cfg Config, keys HomeKeys) error {
	host, err := p2p.New(ctx, n.hostConfig(cfg, keys), p2p.Handlers{
		ValidateTxs: n.validateGossipTxs,
		OnConsensus: func(from peer.ID, msg []byte) {
			n.driver.deliverWait(from.String(), msg)
		},
		Blocks: n.store,
	})
	if err != nil {
		return err
	}
	n.host = host
	return nil
}

// admitValidators lets the host open consensus streams to the validators
// and accept theirs. It comes after the driver exists: until then a
// validator's stream is refused, since OnConsensus hands its messages to
// the driver (a reconnecting validator sends its queue at once, while
// newDriver may still be replaying the write-ahead records).
func (n *Node) admitValidators() {
	var validators []peer.ID
	for _, id := range n.peerOf {
		if id != "" {
			validators = append(validators, id)
		}
	}
	n.host.SetValidators(validators)
}

// validateGossipTxs is the gossip topic's validator: the txs of one gossip
// message go to the mempool together (their signatures verified in one
// batch). A tx accepted into the mempool is forwarded; a provably invalid
// one punishes the peer that sent it; anything else (duplicate, stale
// nonce, pool full) is dropped quietly.
//
// A full pool refuses a cheap tx before checking its signature, and so
// does the sender's account a tx it cannot run (a used nonce, one past the
// window, a cost above the balance; mempool.RefusedBeforeSignature). If
// the message is forwarded anyway (another of its txs was taken), those
// signatures are checked here: the message goes on as the bytes it came
// in, and a peer with room, or another view of the account, would find a
// forged signature in it and punish this node for forwarding it.
func (n *Node) validateGossipTxs(txs []*ledger.Tx) []error {
	errs := n.pool.AddBatch(txs)
	taken := false
	var unchecked []int // refused perhaps before their signature
	for i, err := range errs {
		switch {
		case err == nil:
			taken = true
			signal(n.txsArrived)
		case mempool.RefusedBeforeSignature(err) && !n.sigs.Contains(txs[i].Hash()):
			unchecked = append(unchecked, i)
		case isProvablyInvalid(err):
			n.metrics.txsRejected.WithLabelValues("gossip").Inc()
			errs[i] = fmt.Errorf("%w: %w", p2p.ErrInvalid, err)
		}
	}
	if taken && len(unchecked) > 0 {
		check := make([]*ledger.Tx, len(unchecked))
		for j, i := range unchecked {
			check[j] = txs[i]
		}
		// One bad tx is enough: it rejects the whole message.
		if bad, err := ledger.CheckTxsCached(n.pool.Config().ChainID, check, n.sigs); err != nil {
			n.metrics.txsRejected.WithLabelValues("gossip").Inc()
			errs[unchecked[bad]] = fmt.Errorf("%w: %w", p2p.ErrInvalid, err)
		}
	}
	return errs
}

// isProvablyInvalid: errors that no honest node could have forwarded,
// whatever its view of the state.
func isProvablyInvalid(err error) bool {
	for _, e := range []error{ledger.ErrTxBadSignature, ledger.ErrTxWrongChain, ledger.ErrTxBadSender,
		ledger.ErrTxMemoTooLarge, ledger.ErrTxAmountOverflow, ledger.ErrTxTooLarge, ledger.ErrMalformed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (n *Node) penalize(from string, reason error) {
	id, err := peer.Decode(from)
	if err != nil {
		return
	}
	n.host.Penalize(id, reason.Error())
}

// validatorNet sends consensus messages to validators by index.
type validatorNet struct {
	host  *p2p.Host
	peers []peer.ID
	self  int
}

func (v validatorNet) SendConsensus(to int, msg []byte) {
	if to < 0 || to >= len(v.peers) || v.peers[to] == "" || to == v.self {
		return
	}
	// A send fails only for a peer that is not connected or a closed
	// host; the engine recovers lost messages by view change and catch-up.
	_ = v.host.SendConsensus(v.peers[to], msg)
}

func (v validatorNet) BroadcastConsensus(msg []byte) { _ = v.host.BroadcastConsensus(msg) }

// serve runs the node until ctx ends or the consensus loop fails, then
// shuts it down; its error is the loop's and close's: a node that could
// not make everything durable must not exit as if it had.
func (n *Node) serve(ctx context.Context, opts RunOptions) (err error) {
	defer func() {
		if cerr := n.close(); cerr != nil {
			n.log.Error("closing the node failed", "err", cerr)
			err = errors.Join(err, cerr)
		}
	}()
	var wg sync.WaitGroup
	loopCtx, stopLoop := context.WithCancel(context.Background())
	defer stopLoop()
	loopErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		loopErr <- n.driver.run(loopCtx)
	}()
	n.ingress.start(loopCtx)
	servers, err := n.startHTTP()
	if err != nil {
		stopLoop()
		wg.Wait()
		n.ingress.wait()
		return errors.Join(err, <-loopErr)
	}
	wg.Add(3)
	go func() { defer wg.Done(); n.gossip.run(loopCtx) }()
	go func() { defer wg.Done(); n.rebroadcast(loopCtx) }()
	go func() { defer wg.Done(); n.watchPeers(loopCtx) }()
	n.log.Info("node started", "validator", n.self, "height", n.store.Head().Height, "peer_id", n.host.ID(),
		"rpc", n.cfg.RPC.Listen, "metrics", n.cfg.Metrics.Listen)
	if opts.Ready != nil {
		opts.Ready(n)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-loopErr:
		n.log.Error("consensus loop stopped", "err", runErr)
	}
	n.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdownCtx)
	}
	stopLoop()
	wg.Wait()
	n.ingress.wait() // no admission may touch the journal after close
	n.events.close()
	if runErr == nil {
		// Stopping, the loop waits for the block write in progress and
		// syncs the blocks written without an fsync: a failure there is a
		// disk failure too, and the node must not exit as if all were on
		// disk. (A loop that stopped by itself always returned an error.)
		if runErr = <-loopErr; runErr != nil {
			n.log.Error("consensus loop failed while stopping", "err", runErr)
		}
	}
	return runErr
}

// journalSweepBlocks: every so many heights the tx journal forgets the
// txs that left the mempool without committing.
const journalSweepBlocks = 256

// committed hears of every block the consensus loop applied.
func (n *Node) committed(b *ledger.Block, _ *ledger.CommitCertificate) {
	if err := n.journal.remove(b.Txs); err != nil {
		// Left in the journal, they are dropped at the next start's
		// replay (their nonces are used).
		n.log.Warn("tx journal: forget committed txs", "height", b.Height(), "err", err)
	}
	if b.Height()%journalSweepBlocks == 0 {
		err := n.journal.sweep(func(h crypto.Hash) bool { _, ok := n.pool.Get(h); return ok })
		if err != nil {
			n.log.Warn("tx journal: sweep", "err", err)
		}
	}
	n.events.publish(b)
}

// shutdownable is an HTTP server the node stops on shutdown.
type shutdownable interface{ Shutdown(context.Context) error }

func (n *Node) startHTTP() ([]shutdownable, error) {
	var servers []shutdownable
	if n.cfg.RPC.Listen != "" {
		var rcfg rpc.Config
		rcfg.CORSOrigins = n.cfg.RPC.CORSOrigins
		rcfg.RequestBytesMax = int64(n.cfg.RPC.RequestBytesMax)
		if n.cfg.Metrics.Listen == "" {
			rcfg.Metrics = n.metrics.Handler()
		}
		var api rpc.Backend = backend{n}
		if n.driver.om != nil { // synod_omReport exists only with om_verify
			api = omBackend{backend{n}}
		}
		srv := rpc.NewServer(rcfg, api, n.log)
		ln, err := net.Listen("tcp", n.cfg.RPC.Listen)
		if err != nil {
			return nil, fmt.Errorf("rpc listen: %w", err)
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("rpc server", "err", err)
			}
		}()
		servers = append(servers, srv)
	}
	for _, s := range []struct {
		addr    string
		handler http.Handler
	}{{n.cfg.Metrics.Listen, n.metricsMux()}, {n.cfg.Admin.Listen, n.adminMux()}} {
		if s.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			for _, srv := range servers {
				_ = srv.Shutdown(context.Background())
			}
			return nil, fmt.Errorf("listen %s: %w", s.addr, err)
		}
		srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		servers = append(servers, srv)
	}
	return servers, nil
}

func (n *Node) metricsMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", n.metrics.Handler())
	return mux
}

// queuedTxLifetime is how long a tx may wait behind a nonce gap (its
// sender's earlier nonce never arrived) before the mempool drops it. A
// wallet's out-of-order submissions fill their gaps within seconds; a tx
// whose gap never fills would otherwise hold its sender's slots in every
// pool and be re-gossiped every rebroadcastInterval, forever.
const queuedTxLifetime = 10 * time.Minute

// rebroadcast re-gossips pending txs that are not yet committed: gossip is
// best-effort, and a tx an honest node accepted must not be silently lost.
// It also expires the txs stuck behind a nonce gap (queuedTxLifetime),
// every rebroadcastInterval: that scan visits every sender, the re-gossip
// only the txs it returns.
func (n *Node) rebroadcast(ctx context.Context) {
	gossip := time.NewTicker(rebroadcastTick)
	defer gossip.Stop()
	expire := time.NewTicker(rebroadcastInterval)
	defer expire.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-expire.C:
			if expired := n.pool.ExpireQueued(now.UnixMilli(), queuedTxLifetime.Milliseconds()); len(expired) > 0 {
				n.log.Info("mempool: dropped txs stuck behind a nonce gap", "txs", len(expired), "waited", queuedTxLifetime)
			}
		case now := <-gossip.C:
			txs := n.pool.ForRebroadcast(now.UnixMilli(), rebroadcastInterval.Milliseconds())
			if len(txs) > 0 {
				n.metrics.txsRebroadcast.Add(float64(len(txs)))
				if err := n.host.PublishTxs(txs); err != nil {
					n.log.Debug("rebroadcast", "err", err)
				}
			}
		}
	}
}

// catchUp fetches committed blocks [from, to] with their certificates from
// peers and hands them to the consensus loop, which verifies each
// certificate before applying. One sync runs at a time.
func (n *Node) catchUp(from, to uint64, signers []uint16) {
	var candidates []peer.ID
	for _, s := range signers {
		if int(s) < len(n.peerOf) && n.peerOf[s] != "" && int(s) != int(n.self) {
			candidates = append(candidates, n.peerOf[s])
		}
	}
	n.catchUpFrom(from, to, candidates)
}

// catchUpFrom fetches [from, to] trying the given peers first, then every
// connected peer, and feeds the blocks to the consensus loop through the
// block sync pipeline (syncpipeline.go). One sync runs at a time.
func (n *Node) catchUpFrom(from, to uint64, candidates []peer.ID) {
	n.syncMu.Lock()
	if n.syncing {
		n.syncMu.Unlock()
		return
	}
	n.syncing = true
	n.syncMu.Unlock()
	go func() {
		defer func() { n.syncMu.Lock(); n.syncing = false; n.syncMu.Unlock() }()
		n.syncRange(context.Background(), from, to, candidates)
	}()
}

// peerPollInterval: how often a node that is not committing asks its
// peers how far they are.
const peerPollInterval = 2 * time.Second

// watchPeers catches this node up when it stops committing while peers are
// ahead of it: after a restart or a partition, the engine sees no fresh
// consensus traffic for its heights and would otherwise wait forever. It
// asks the validators only: they alone run a node, and each peer asked may
// take a second, which strangers (free to multiply) would spend for
// nothing.
func (n *Node) watchPeers(ctx context.Context) {
	t := time.NewTicker(peerPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(n.driver.lastCommitTime()) < peerPollInterval || n.isSyncing() {
			continue
		}
		own := n.store.Head().Height
		best, bestPeer := own, peer.ID("")
		for i, p := range n.peerOf {
			if p == "" || i == int(n.self) || !n.host.Connected(p) {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, peerPollInterval/2)
			h, err := n.host.StatusOf(pctx, p)
			cancel()
			if err == nil && h > best {
				best, bestPeer = h, p
			}
		}
		if bestPeer != "" {
			n.log.Info("behind peers, catching up", "height", own, "peer_height", best, "peer", bestPeer)
			n.catchUpFrom(own+1, best, []peer.ID{bestPeer})
		}
	}
}

func (n *Node) isSyncing() bool {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	return n.syncing
}

// close releases the network, the tx journal and the store, each once
// (Pebble panics on a second Close), and returns what failed: a journal
// or a store that failed to close may have lost writes, and the operator
// must hear of it.
func (n *Node) close() error {
	n.closeOnce.Do(func() { n.closeErr = n.closeAll() })
	return n.closeErr
}

func (n *Node) closeAll() error {
	var errs []error
	if n.host != nil {
		if err := n.host.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close p2p host: %w", err))
		}
	}
	if n.journal != nil {
		if err := n.journal.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close tx journal: %w", err))
		}
	}
	if n.store != nil {
		if err := n.closeStore(storeReadersWaitMax); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// closeStore closes the store once no reader from outside the consensus
// loop is in it, waiting for those in up to wait; past that it leaves the
// store open rather than pull it from under them.
func (n *Node) closeStore(wait time.Duration) error {
	if in := n.storeReaders.close(wait); in > 0 {
		return fmt.Errorf("close ledger store: left open, still being read after %s (readers: %d)", wait, in)
	}
	if err := n.store.Close(); err != nil {
		return fmt.Errorf("close ledger store: %w", err)
	}
	return nil
}

// storeStats is the store's engine counters for the metrics, or false
// once the store closes.
func (n *Node) storeStats() (ledger.StoreStats, bool) {
	if !n.storeReaders.enter() {
		return ledger.StoreStats{}, false
	}
	defer n.storeReaders.leave()
	return n.store.Stats(), true
}

func newLogger(cfg LogConfig, out io.Writer) (*slog.Logger, error) {
	if out == nil {
		out = os.Stderr
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(cfg.Level))); err != nil {
		return nil, fmt.Errorf("%w: log level %q", ErrConfig, cfg.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(out, opts)), nil
	}
	return slog.New(slog.NewTextHandler(out, opts)), nil
}
