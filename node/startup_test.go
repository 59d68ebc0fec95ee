package node

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/p2p"
)

// TestConsensusBeforeDriverDoesNotCrash: a node starts its host before it
// builds its consensus loop (replaying the write-ahead records takes a
// while), and a validator that reconnects at once sends what it has queued.
// Such a message must not reach a driver that does not exist yet. Method:
// start a node's host alone, as open does before newDriver, and have a
// host holding validator 0's node key send it a consensus message.
func TestConsensusBeforeDriverDoesNotCrash(t *testing.T) {
	net := newCatchUpNet(t, 1)
	cfg, err := LoadConfig(net.nodes[1].Home)
	if err != nil {
		t.Fatal(err)
	}
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.P2P.PersistentPeers = nil
	keys, err := LoadKeys(net.nodes[1].Home, net.password)
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{genesis: net.genesis, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if n.peerOf, err = validatorPeers(net.genesis); err != nil {
		t.Fatal(err)
	}
	if err := n.startHost(context.Background(), cfg, keys); err != nil {
		t.Fatal(err)
	}
	defer n.host.Close()

	keys0, err := LoadKeys(net.nodes[0].Home, net.password)
	if err != nil {
		t.Fatal(err)
	}
	val0 := startTestHost(t, net.genesis.ChainID, keys0.Node, nil, p2p.Handlers{})
	defer val0.Close()
	if val0.ID() != n.peerOf[0] {
		t.Fatalf("validator 0's host is %s, genesis names %s", val0.ID(), n.peerOf[0])
	}
	val0.AddPeerAddrs(peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()})
	val0.SetValidators([]peer.ID{n.host.ID()})
	if err := val0.SendConsensus(n.host.ID(), []byte("a queued vote")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "validator 0's stream to be written or refused", 20*time.Second, func() bool {
		return val0.Stats().ConsensusSent > 0 || n.host.Stats().ConsensusStreamsRefused > 0
	})
	// Give the dispatcher time to hand the message on, if it took it.
	time.Sleep(200 * time.Millisecond)
	if got := n.host.Stats().ConsensusReceived; got != 0 {
		t.Fatalf("%d consensus messages went to a node without a consensus loop", got)
	}
}

// TestConsensusFloodDoesNotCrowdOutValidators: the host's inbound queues
// are per peer and served in turn, so a validator that floods (a Byzantine
// one replaying a validly signed vote costs the loop a signature check per
// copy, and nothing to send) fills only its own queue. That holds only if
// the consensus loop's inbox takes messages as the loop steps them: if it
// takes whatever the host dispatches and drops what does not fit, the
// flood keeps it full and an honest validator's vote is dropped. Method:
// a node whose loop is not stepping yet, a validator flooding it until its
// inbox is full, then one message from another validator; as the test
// then steps the inbox, the honest message must come out soon after the
// messages already in it. The same for OM verification's envelopes, which
// share the consensus streams and have their own inbox.
func TestConsensusFloodDoesNotCrowdOutValidators(t *testing.T) {
	t.Run("pbft", func(t *testing.T) { testFloodDoesNotCrowdOut(t, false) })
	t.Run("om", func(t *testing.T) { testFloodDoesNotCrowdOut(t, true) })
}

func testFloodDoesNotCrowdOut(t *testing.T, om bool) {
	net := newCatchUpNet(t, 1)
	keys := make([]HomeKeys, 3)
	for i := range keys {
		var err error
		if keys[i], err = LoadKeys(net.nodes[i].Home, net.password); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := LoadConfig(net.nodes[1].Home)
	if err != nil {
		t.Fatal(err)
	}
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.P2P.PersistentPeers = nil
	store := net.openStore(t)
	defer store.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n := &Node{genesis: net.genesis, log: log, store: store}
	if n.peerOf, err = validatorPeers(net.genesis); err != nil {
		t.Fatal(err)
	}
	if err := n.startHost(context.Background(), cfg, keys[1]); err != nil {
		t.Fatal(err)
	}
	defer n.host.Close()
	if n.driver, err = newDriver(driverConfig{Genesis: net.genesis, Self: 1, Key: keys[1].Validator, Store: store,
		Net: validatorNet{host: n.host, peers: n.peerOf, self: 1}, Tick: 50 * time.Millisecond, Now: time.Now,
		Metrics: NewMetrics(func() float64 { return 0 }, func() float64 { return 0 }), Penalize: func(string, error) {}, Logger: log,
		OMVerify: om}); err != nil {
		t.Fatal(err)
	}
	n.admitValidators()
	// The loop starts only once the test has looked at its inbox; it is
	// then run and stopped, as serve does, so the host can close.
	defer func() {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.driver.run(ctx) }()
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	validator := func(i int) *p2p.Host {
		h := startTestHost(t, net.genesis.ChainID, keys[i].Node, nil, p2p.Handlers{})
		h.AddPeerAddrs(peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()})
		h.SetValidators([]peer.ID{n.host.ID()})
		return h
	}
	flooder, honest := validator(0), validator(2)
	defer flooder.Close()
	defer honest.Close()
	stopFlood := make(chan struct{})
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		vote := []byte("a validly signed vote, replayed")
		if om {
			vote[0] = omEnvelopeKind
		}
		for {
			select {
			case <-stopFlood:
				return
			default:
			}
			_ = flooder.SendConsensus(n.host.ID(), vote)
			time.Sleep(20 * time.Microsecond)
		}
	}()
	defer func() { close(stopFlood); <-flooding }()
	inbox := n.driver.inbox
	honestVote := []byte("an honest vote")
	if om {
		inbox, honestVote[0] = n.driver.omInbox, omEnvelopeKind
	}
	waitUntil(t, "the flood to fill the loop's inbox", 30*time.Second, func() bool { return len(inbox) == cap(inbox) })
	if err := honest.SendConsensus(n.host.ID(), honestVote); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the honest vote to be sent", 20*time.Second, func() bool { return honest.Stats().ConsensusSent > 0 })
	time.Sleep(300 * time.Millisecond) // for the node to read it
	for i := 0; i < cap(inbox)+8; i++ {
		select {
		case m := <-inbox:
			if m.from == honest.ID().String() {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the inbox ran dry after %d messages", i)
		}
	}
	t.Fatalf("the honest vote did not come out of the loop's inbox within %d messages", cap(inbox)+8)
}

func TestHostConfigCarriesTheValidatorCount(t *testing.T) {
	// Goal: the p2p host learns n from genesis before it starts, so block
	// sync sizes its serving slots and streams for the set's f; method:
	// the host config of a node of a 25-validator genesis.
	g, _, _ := testGenesis(t, 25, 1)
	n := &Node{genesis: g, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if got := n.hostConfig(DefaultConfig("v0"), HomeKeys{}).ValidatorCount; got != 25 {
		t.Fatalf("host config names %d validators, genesis 25", got)
	}
}

func TestHostConfigCarriesSyncServeBytes(t *testing.T) {
	// Goal: p2p.sync_serve_bytes_max reaches the host, whose default it
	// also is; method: the host config of the default node config and of
	// one with the setting changed.
	g, _, _ := testGenesis(t, 4, 1)
	n := &Node{genesis: g, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg := DefaultConfig("v0")
	if got, want := n.hostConfig(cfg, HomeKeys{}).SyncServeBytesMax, p2p.DefaultConfig().SyncServeBytesMax; got != want {
		t.Fatalf("default config: the host serves %d bytes at once, want p2p's default %d", got, want)
	}
	cfg.P2P.SyncServeBytesMax = 256 << 20
	if got := n.hostConfig(cfg, HomeKeys{}).SyncServeBytesMax; got != 256<<20 {
		t.Fatalf("p2p.sync_serve_bytes_max = %d reached the host as %d", 256<<20, got)
	}
}
