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
	pcfg := p2p.DefaultConfig()
	pcfg.ChainID = net.genesis.ChainID
	pcfg.Key = keys0.Node
	pcfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	val0, err := p2p.New(context.Background(), pcfg, p2p.Handlers{})
	if err != nil {
		t.Fatal(err)
	}
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
