package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/synod-chain/synod/crypto"
)

// ErrClosed is returned by calls on a closed Host.
var ErrClosed = errors.New("p2p: host closed")

// Connection manager tags: persistent peers and validators are never
// trimmed by the watermarks.
const (
	protectPersistent = "synod-persistent"
	protectValidator  = "synod-validator"
)

// Host is a Synod node's presence on the network. All methods are safe for
// concurrent use.
type Host struct {
	cfg   Config
	log   *slog.Logger
	h     host.Host
	cmgr  *connmgr.BasicConnMgr
	gater *gater
	stats *counters

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	randMu sync.Mutex
	rand   *rand.Rand

	persistent []peer.AddrInfo
	wakeMu     sync.Mutex
	wake       map[peer.ID]chan struct{}

	valMu      sync.RWMutex
	validators map[peer.ID]bool

	tx   *txGossip
	cons *consensusTransport
	sync *blockSync
	pen  *penalties

	handlerMu sync.Mutex
	stopping  bool
	handlers  sync.WaitGroup

	closeOnce sync.Once
}

// PeerIDFromKey returns the peer id of the node whose key is pk, so config
// and genesis can name peers by their ed25519 keys.
func PeerIDFromKey(pk crypto.PublicKey) (peer.ID, error) {
	lpk, err := lcrypto.UnmarshalEd25519PublicKey(pk[:])
	if err != nil {
		return "", fmt.Errorf("peer id from key: %w", err)
	}
	id, err := peer.IDFromPublicKey(lpk)
	if err != nil {
		return "", fmt.Errorf("peer id from key: %w", err)
	}
	return id, nil
}

// KeyFromPeerID returns the ed25519 key embedded in an ed25519 peer id.
func KeyFromPeerID(id peer.ID) (crypto.PublicKey, error) {
	lpk, err := id.ExtractPublicKey()
	if err != nil {
		return crypto.PublicKey{}, fmt.Errorf("key from peer id %s: %w", id, err)
	}
	if lpk.Type() != lcrypto.Ed25519 {
		return crypto.PublicKey{}, fmt.Errorf("key from peer id %s: not an ed25519 key", id)
	}
	raw, err := lpk.Raw()
	if err != nil {
		return crypto.PublicKey{}, fmt.Errorf("key from peer id %s: %w", id, err)
	}
	return crypto.ParsePublicKey(raw)
}

func libp2pKey(k crypto.PrivateKey) (lcrypto.PrivKey, error) {
	pub := k.Public()
	raw := append(k.Seed(), pub[:]...)
	sk, err := lcrypto.UnmarshalEd25519PrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	return sk, nil
}

// New starts a host: it listens, joins the tx topic, registers the
// consensus and block sync protocols and starts dialling persistent peers.
// ctx bounds start-up only; Close stops the host.
func New(ctx context.Context, cfg Config, handlers Handlers) (*Host, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Host{cfg: cfg, log: cfg.Logger, rand: cfg.Rand, stats: &counters{},
		wake: make(map[peer.ID]chan struct{}), validators: make(map[peer.ID]bool)}
	if n.log == nil {
		n.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n.log = n.log.With("component", "p2p")
	if n.rand == nil {
		n.rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x53796e6f64))
	}
	if cfg.Now == nil {
		n.cfg.Now = time.Now
	}
	persistent, err := parsePeerAddrs(cfg.PersistentPeers)
	if err != nil {
		return nil, err
	}
	n.persistent = persistent
	n.gater = newGater()
	n.pen = newPenalties(&n.cfg)
	n.gater.setBlocked(n.pen.blocked)
	if err := n.startLibp2p(); err != nil {
		return nil, err
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	err = n.startServices(handlers)
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("p2p: start: %w", ctx.Err()) // start-up outlived its caller's patience
	}
	if err != nil {
		n.handlerMu.Lock()
		n.stopping = true
		n.handlerMu.Unlock()
		n.cancel()
		n.h.Close()
		n.handlers.Wait()
		n.wg.Wait()
		return nil, err
	}
	n.h.Network().Notify(&network.NotifyBundle{ConnectedF: n.onConnected, DisconnectedF: n.onDisconnected})
	n.startPersistent()
	n.log.Info("p2p host started", "id", n.h.ID(), "addrs", n.h.Addrs(), "persistent_peers", len(n.persistent))
	return n, nil
}

func parsePeerAddrs(addrs []string) ([]peer.AddrInfo, error) {
	byID := make(map[peer.ID]int)
	var out []peer.AddrInfo
	for _, s := range addrs {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: persistent peer %q: %w", ErrConfig, s, err)
		}
		if i, ok := byID[ai.ID]; ok {
			out[i].Addrs = append(out[i].Addrs, ai.Addrs...)
			continue
		}
		byID[ai.ID] = len(out)
		out = append(out, *ai)
	}
	return out, nil
}

func (n *Host) startLibp2p() error {
	sk, err := libp2pKey(n.cfg.Key)
	if err != nil {
		return err
	}
	listen := make([]ma.Multiaddr, 0, len(n.cfg.ListenAddrs))
	for _, s := range n.cfg.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("%w: listen address %q: %w", ErrConfig, s, err)
		}
		listen = append(listen, a)
	}
	cmgr, err := connmgr.NewConnManager(n.cfg.ConnsLow, n.cfg.ConnsHigh, connmgr.WithGracePeriod(n.cfg.ConnGracePeriod))
	if err != nil {
		return fmt.Errorf("p2p: connection manager: %w", err)
	}
	rm, err := n.resourceManager()
	if err != nil {
		cmgr.Close()
		return err
	}
	h, err := libp2p.New(
		libp2p.Identity(sk),
		libp2p.ListenAddrs(listen...),
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.ConnectionGater(n.gater),
		libp2p.ConnectionManager(cmgr),
		libp2p.ResourceManager(rm),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		return fmt.Errorf("p2p: start libp2p: %w", err)
	}
	// libp2p fails only when no address can be listened on; with one
	// taken (a TCP port in use, its QUIC twin free) the node would run
	// unreachable at the address the genesis gives its peers.
	if missing := unlistened(listen, h.Network().ListenAddresses()); len(missing) > 0 {
		h.Close()
		return fmt.Errorf("p2p: cannot listen on %v (address in use?)", missing)
	}
	n.h, n.cmgr = h, cmgr
	for _, ai := range n.persistent {
		h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
		cmgr.Protect(ai.ID, protectPersistent)
		n.wake[ai.ID] = make(chan struct{}, 1)
	}
	return nil
}

// unlistened returns the addresses of want that no address of got
// listens on; a want's TCP or UDP port 0 stands for any port.
func unlistened(want, got []ma.Multiaddr) []ma.Multiaddr {
	var missing []ma.Multiaddr
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g ma.Multiaddr) bool { return listensOn(w, g) }) {
			missing = append(missing, w)
		}
	}
	return missing
}

func listensOn(want, got ma.Multiaddr) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		w, g := want[i], got[i]
		anyPort := (w.Code() == ma.P_TCP || w.Code() == ma.P_UDP) && w.Value() == "0"
		if w.Code() != g.Code() || (w.Value() != g.Value() && !anyPort) {
			return false
		}
	}
	return true
}

func (n *Host) startServices(handlers Handlers) error {
	tx, err := startTxGossip(n, handlers)
	if err != nil {
		return err
	}
	n.tx = tx
	n.cons = startConsensus(n, handlers.OnConsensus)
	n.sync = startBlockSync(n, handlers.Blocks)
	return nil
}

// onDisconnected wakes the keeper of a persistent peer when its last
// connection closed.
func (n *Host) onDisconnected(net network.Network, c network.Conn) {
	p := c.RemotePeer()
	if net.Connectedness(p) == network.Connected {
		return
	}
	n.wakePeer(p)
}

// onConnected lets a consensus link waiting out a backoff retry at once.
func (n *Host) onConnected(_ network.Network, c network.Conn) {
	n.cons.peerConnected(c.RemotePeer())
}

// enter registers a stream handler run by a libp2p goroutine so Close can
// wait for it; it reports false once Close has begun.
func (n *Host) enter() bool {
	n.handlerMu.Lock()
	defer n.handlerMu.Unlock()
	if n.stopping {
		return false
	}
	n.handlers.Add(1)
	return true
}

func (n *Host) leave() { n.handlers.Done() }

func (n *Host) wakePeer(p peer.ID) {
	n.wakeMu.Lock()
	ch := n.wake[p]
	n.wakeMu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (n *Host) wakeAll() {
	for _, ai := range n.persistent {
		n.wakePeer(ai.ID)
	}
}

func (n *Host) startPersistent() {
	for _, ai := range n.persistent {
		n.wg.Add(1)
		go n.keepPeer(ai, n.wake[ai.ID])
	}
}

// keepPeer dials a persistent peer whenever it is not connected, backing
// off exponentially between failed dials, and sleeps until it drops.
func (n *Host) keepPeer(ai peer.AddrInfo, wake <-chan struct{}) {
	defer n.wg.Done()
	log := n.log.With("peer", ai.ID)
	failures := 0
	for {
		if n.h.Network().Connectedness(ai.ID) != network.Connected {
			err := n.dial(ai)
			if err == nil {
				log.Info("persistent peer connected", "after_failures", failures)
				failures = 0
				continue
			}
			delay := n.backoff(failures)
			failures++
			log.Debug("persistent peer dial failed", "err", err, "retry_in", delay, "failures", failures)
			if !n.sleep(delay, wake) {
				return
			}
			continue
		}
		select {
		case <-n.ctx.Done():
			return
		case <-wake:
		}
	}
}

func (n *Host) dial(ai peer.AddrInfo) error {
	if !n.gater.allowed(ai.ID) {
		return fmt.Errorf("dial %s: %w", ai.ID, errGated)
	}
	// Skip the swarm's own dial backoff: keepPeer has one, and the swarm's
	// would hide a restarted peer for many seconds.
	ctx, cancel := context.WithTimeout(network.WithForceDirectDial(n.ctx, "persistent peer"), n.cfg.DialTimeout)
	defer cancel()
	if err := n.h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("dial %s: %w", ai.ID, err)
	}
	return nil
}

// sleep waits d, an early wake, or Close; it reports false on Close.
func (n *Host) sleep(d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-n.ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// backoff is ReconnectDelayMin doubled per failure, capped at
// ReconnectDelayMax, with full jitter in [d/2, d] so peers that dropped
// together do not redial in lockstep.
func (n *Host) backoff(failures int) time.Duration {
	return jitteredBackoff(n.cfg.ReconnectDelayMin, n.cfg.ReconnectDelayMax, failures, n.randInt64N)
}

func (n *Host) randInt64N(k int64) int64 {
	n.randMu.Lock()
	defer n.randMu.Unlock()
	return n.rand.Int64N(k)
}

func jitteredBackoff(minDelay, maxDelay time.Duration, failures int, randN func(int64) int64) time.Duration {
	d := minDelay
	for i := 0; i < failures && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(randN(int64(half)+1))
}

// ID is the host's peer id.
func (n *Host) ID() peer.ID { return n.h.ID() }

// Addrs are the host's listen addresses, each ending in /p2p/<id> so they
// can be handed to another node as persistent peers.
func (n *Host) Addrs() []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()})
	if err != nil {
		n.log.Error("p2p addrs", "err", err)
		return nil
	}
	return addrs
}

// Peers are the peers with at least one open connection.
func (n *Host) Peers() []peer.ID { return n.h.Network().Peers() }

// Connected reports whether p has an open connection.
func (n *Host) Connected(p peer.ID) bool {
	return n.h.Network().Connectedness(p) == network.Connected
}

// AddPeerAddrs records addresses of p (from genesis or config) so streams
// to p can dial it.
func (n *Host) AddPeerAddrs(ai peer.AddrInfo) {
	n.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
}

// SetValidators tells the host which peers are validators: consensus
// streams go to and are accepted from them only, block sync serves them
// only, and the connection manager never trims them.
func (n *Host) SetValidators(ids []peer.ID) {
	next := make(map[peer.ID]bool, len(ids))
	for _, id := range ids {
		if id != n.h.ID() {
			next[id] = true
		}
	}
	n.valMu.Lock()
	prev := n.validators
	n.validators = next
	n.valMu.Unlock()
	for id := range prev {
		if !next[id] {
			n.cmgr.Unprotect(id, protectValidator)
		}
	}
	for id := range next {
		n.cmgr.Protect(id, protectValidator)
	}
	n.cons.setValidators(next)
}

// syncAllowed reports whether p may use block sync: anyone until
// SetValidators names other validators, then only they. Only validators
// run a node, and a stranger's peer id costs nothing: a few strangers
// holding requests open until SyncTimeout took every inbound sync stream
// the resource manager allows, and refused validators their catch-up.
func (n *Host) syncAllowed(p peer.ID) bool {
	n.valMu.RLock()
	defer n.valMu.RUnlock()
	return len(n.validators) == 0 || n.validators[p]
}

func (n *Host) isValidator(p peer.ID) bool {
	n.valMu.RLock()
	defer n.valMu.RUnlock()
	return n.validators[p]
}

// SetPartition lets the host talk only to allowed peers: connections to
// every other peer are closed and refused both ways until Heal. A testnet
// fault injector uses it to split the network.
func (n *Host) SetPartition(allowed []peer.ID) {
	n.gater.setPartition(allowed)
	n.closeGated()
	n.log.Info("partition set", "allowed", len(allowed))
}

// Heal lifts a partition and wakes persistent peer dialling at once.
func (n *Host) Heal() {
	n.gater.setPartition(nil)
	n.log.Info("partition healed")
	n.wakeAll()
}

// closeGated closes connections the gater no longer allows.
func (n *Host) closeGated() {
	for _, p := range n.h.Network().Peers() {
		if !n.gater.allowed(p) {
			if err := n.h.Network().ClosePeer(p); err != nil {
				n.log.Debug("close gated peer", "peer", p, "err", err)
			}
		}
	}
}

// Close stops every goroutine the host started and closes all connections.
func (n *Host) Close() error {
	var err error
	n.closeOnce.Do(func() {
		n.handlerMu.Lock()
		n.stopping = true
		n.handlerMu.Unlock()
		n.cancel()
		n.tx.close()
		n.cons.close()
		err = n.h.Close()
		n.handlers.Wait()
		n.wg.Wait()
		n.log.Info("p2p host closed")
	})
	if err != nil {
		return fmt.Errorf("p2p: close: %w", err)
	}
	return nil
}

// closed reports whether Close was called.
func (n *Host) closed() bool { return n.ctx.Err() != nil }
