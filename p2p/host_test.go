package p2p

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/synod-chain/synod/ledger"
)

func TestPeerIDFromKeyMatchesHost(t *testing.T) {
	// Goal: config and genesis can name a node by its ed25519 key alone.
	// Method: the id derived from the key equals the running host's id,
	// and the key comes back out of the id.
	cfg := testConfig(t, 3)
	h := startHost(t, cfg, Handlers{})
	id, err := PeerIDFromKey(cfg.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if id != h.ID() {
		t.Fatalf("PeerIDFromKey %s, host id %s", id, h.ID())
	}
	pk, err := KeyFromPeerID(id)
	if err != nil || pk != cfg.Key.Public() {
		t.Fatalf("KeyFromPeerID: %v, %v", pk, err)
	}
	for _, a := range h.Addrs() {
		if !strings.HasSuffix(a.String(), "/p2p/"+id.String()) {
			t.Errorf("address %s does not end in the peer id", a)
		}
	}
}

func TestHostListensOnQUIC(t *testing.T) {
	// Goal: the QUIC transport works next to TCP. Method: B listens on
	// both; A dials only B's QUIC address.
	cfgB := testConfig(t, 1)
	cfgB.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	a := startHost(t, testConfig(t, 0), Handlers{})
	b := startHost(t, cfgB, Handlers{})
	var quicAddrs []ma.Multiaddr
	for _, addr := range b.h.Addrs() {
		if strings.Contains(addr.String(), "/quic-v1") {
			quicAddrs = append(quicAddrs, addr)
		}
	}
	if len(quicAddrs) == 0 {
		t.Fatalf("no QUIC address among %v", b.h.Addrs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := a.h.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: quicAddrs}); err != nil {
		t.Fatalf("connect over QUIC: %v", err)
	}
	conns := a.h.Network().ConnsToPeer(b.ID())
	if len(conns) == 0 || !strings.Contains(conns[0].RemoteMultiaddr().String(), "quic-v1") {
		t.Errorf("connection is not over QUIC: %v", conns)
	}
}

func TestPartitionClosesAndRefusesConnections(t *testing.T) {
	// Goal: SetPartition cuts existing connections to excluded peers and
	// refuses new ones both ways; Heal lifts it. Method: A, B, C
	// connected; A allows only C; check A–B is closed and neither side
	// can reconnect while A–C lives; heal and reconnect.
	a := startHost(t, testConfig(t, 0), Handlers{})
	b := startHost(t, testConfig(t, 1), Handlers{})
	c := startHost(t, testConfig(t, 2), Handlers{})
	connect(t, a, b)
	connect(t, a, c)
	a.SetPartition([]peer.ID{c.ID()})
	waitFor(t, testWait, "A–B closed", func() bool { return !a.Connected(b.ID()) && !b.Connected(a.ID()) })
	if !a.Connected(c.ID()) {
		t.Errorf("A–C was closed by a partition that allows C")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := a.h.Connect(ctx, addrInfo(b)); err == nil {
		t.Errorf("A dialled B across the partition")
	}
	if err := b.h.Connect(network.WithForceDirectDial(ctx, "test"), addrInfo(a)); err == nil {
		// The dial may complete the handshake before A's gater closes it.
		waitFor(t, testWait, "inbound connection refused", func() bool { return !a.Connected(b.ID()) })
	}
	if a.Connected(b.ID()) {
		t.Errorf("A accepted B across the partition")
	}
	a.Heal()
	connect(t, b, a)
	if !a.Connected(b.ID()) {
		t.Errorf("no connection after Heal")
	}
}

func TestPersistentPeerReconnectsAfterRestart(t *testing.T) {
	// Goal: a persistent peer is dialled at start and again after it
	// restarts. Method: B listens on a fixed loopback port; A names it as
	// persistent; B closes and a new host with B's key takes the same
	// port; A must be connected to it again without help.
	cfgB := testConfig(t, 1)
	b, err := New(context.Background(), cfgB, Handlers{})
	if err != nil {
		t.Fatal(err)
	}
	var tcpAddr ma.Multiaddr
	for _, addr := range b.Addrs() {
		if strings.Contains(addr.String(), "/tcp/") {
			tcpAddr = addr
		}
	}
	cfgA := testConfig(t, 0)
	cfgA.PersistentPeers = []string{tcpAddr.String()}
	a := startHost(t, cfgA, Handlers{})
	waitFor(t, testWait, "first connection", func() bool { return a.Connected(b.ID()) })

	listen, _ := ma.SplitFunc(tcpAddr, func(c ma.Component) bool { return c.Protocol().Code == ma.P_P2P })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testWait, "A to notice B left", func() bool { return !a.Connected(b.ID()) })
	time.Sleep(300 * time.Millisecond) // let A fail a few dials and back off
	cfgB.ListenAddrs = []string{listen.String()}
	b2 := startHost(t, cfgB, Handlers{})
	waitFor(t, testWait, "reconnection to the restarted peer", func() bool { return a.Connected(b2.ID()) })
}

func TestPenalizeBlocksThenForgives(t *testing.T) {
	// Goal: repeated misbehaviour disconnects and blocks a peer for
	// PenaltyBlockDuration, then it may return; the table stays bounded.
	// Method: an injected clock; penalize B up to the threshold, check
	// the connection is gone and refused, advance the clock, reconnect.
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfgA := testConfig(t, 0)
	cfgA.Now = clock
	cfgA.PenaltyThreshold = 3
	cfgA.PenaltyPeersMax = 4
	a := startHost(t, cfgA, Handlers{})
	b := startHost(t, testConfig(t, 1), Handlers{})
	connect(t, a, b)
	for range 2 {
		a.Penalize(b.ID(), "test")
	}
	if a.Blocked(b.ID()) || !a.Connected(b.ID()) {
		t.Fatalf("blocked below the threshold")
	}
	a.Penalize(b.ID(), "test")
	if !a.Blocked(b.ID()) {
		t.Fatalf("not blocked at the threshold")
	}
	waitFor(t, testWait, "B disconnected", func() bool { return !a.Connected(b.ID()) })
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := a.h.Connect(ctx, addrInfo(b)); err == nil {
		t.Errorf("dialled a blocked peer")
	}
	mu.Lock()
	now = now.Add(cfgA.PenaltyBlockDuration + time.Second)
	mu.Unlock()
	if a.Blocked(b.ID()) {
		t.Fatalf("still blocked after the block duration")
	}
	connect(t, a, b)

	for i := range 10 {
		a.Penalize(peer.ID(rune('a'+i)), "churn")
	}
	if n := a.pen.len(); n > cfgA.PenaltyPeersMax {
		t.Errorf("penalty table has %d entries, max %d", n, cfgA.PenaltyPeersMax)
	}
}

func TestJitteredBackoffIsCappedAndJittered(t *testing.T) {
	// Goal: backoff doubles per failure, never exceeds the cap, and stays
	// in [d/2, d]. Method: a seeded rand over 40 failures.
	r := rand.New(rand.NewPCG(1, 2))
	minD, maxD := 100*time.Millisecond, 3*time.Second
	seen := map[time.Duration]bool{}
	for f := range 40 {
		d := min(maxD, minD<<min(f, 30))
		got := jitteredBackoff(minD, maxD, f, r.Int64N)
		if got < d/2 || got > d {
			t.Fatalf("failure %d: %v not in [%v, %v]", f, got, d/2, d)
		}
		seen[got] = true
	}
	if len(seen) < 20 {
		t.Errorf("only %d distinct delays: no jitter", len(seen))
	}
}

func TestConfigRefusesUnboundedLimits(t *testing.T) {
	// Goal: every limit must be set and within its ceiling. Method: zero
	// or overgrow one field at a time.
	for _, mutate := range []func(*Config){
		func(c *Config) { c.ConsensusQueueLen = 0 },
		func(c *Config) { c.ConsensusMessageBytesMax = ConsensusMessageBytesCeiling + 1 },
		func(c *Config) { c.TxBatchBytesMax = 100 },
		func(c *Config) { c.SyncBlocksMax = SyncBlocksCeiling + 1 },
		func(c *Config) { c.SyncServeBytesMax = 0 },
		func(c *Config) { c.ValidatorCount = ledger.ValidatorsMax + 1 },
		func(c *Config) { c.ValidatorCount = -1 },
		func(c *Config) { c.ConnsLow = c.ConnsHigh + 1 },
		func(c *Config) { c.ChainID = "" },
		func(c *Config) { c.PersistentPeers = []string{"/ip4/127.0.0.1/tcp/1"} },
	} {
		cfg := testConfig(t, 0)
		mutate(&cfg)
		if _, err := New(context.Background(), cfg, Handlers{}); !errors.Is(err, ErrConfig) {
			t.Errorf("config accepted or wrong error: %v", err)
		}
	}
}

func TestNewRefusesATakenListenAddress(t *testing.T) {
	// Goal: a listen address in use is an error at start, not a node
	// unreachable at the address its peers dial. Method: another socket
	// holds the TCP port, its QUIC twin is free (libp2p itself fails only
	// when every address is taken).
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	cfg := testConfig(t, 0)
	cfg.ListenAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port), "/ip4/127.0.0.1/udp/0/quic-v1"}
	h, err := New(context.Background(), cfg, Handlers{})
	if err == nil {
		addrs := h.Addrs()
		h.Close()
		t.Fatalf("host started with tcp port %d taken, listening on %v only", port, addrs)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("/tcp/%d", port)) {
		t.Fatalf("error %q does not name the address", err)
	}
}

func TestPenaltyTableKeepsBlockedPeers(t *testing.T) {
	// Goal: other peers' offences filling the bounded penalty table do not
	// lift a block early. A blocked peer is disconnected and offends no
	// more, so its entry was always the stalest and the first forgotten.
	// Method: a table of 2; block one peer, then let three others offend
	// once each, a minute apart; the blocked peer must stay blocked.
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := Config{PenaltyThreshold: 2, PenaltyWindow: time.Hour, PenaltyBlockDuration: time.Hour,
		PenaltyPeersMax: 2, Now: func() time.Time { return now }}
	pen := newPenalties(&cfg)
	byz := peer.ID("byzantine")
	pen.add(byz)
	if _, blocked := pen.add(byz); !blocked {
		t.Fatal("not blocked at the threshold")
	}
	for _, p := range []peer.ID{"s1", "s2", "s3"} {
		now = now.Add(time.Minute)
		pen.add(p)
	}
	if !pen.blocked(byz) {
		t.Fatal("the blocked peer was forgotten and so unblocked by others' offences")
	}
	if n := pen.len(); n > cfg.PenaltyPeersMax {
		t.Errorf("penalty table has %d entries, max %d", n, cfg.PenaltyPeersMax)
	}
}
