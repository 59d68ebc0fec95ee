package p2p

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestCloseStopsHostGoroutines(t *testing.T) {
	// Goal: Close stops every goroutine the host started, including ones
	// busy with a reconnecting persistent peer, a consensus link in
	// backoff and an inbound stream. Method: run two hosts through gossip,
	// consensus and a dead persistent peer, close them, and check that no
	// goroutine is left in this package's code.
	cfgA := testConfig(t, 0)
	cfgA.PersistentPeers = []string{"/ip4/127.0.0.1/tcp/9/p2p/" + mustPeerID(t, 7).String()}
	a, err := New(context.Background(), cfgA, Handlers{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(context.Background(), testConfig(t, 1), Handlers{OnConsensus: func(peer.ID, []byte) {}})
	if err != nil {
		t.Fatal(err)
	}
	ids := []peer.ID{a.ID(), b.ID(), mustPeerID(t, 7)}
	a.SetValidators(ids)
	b.SetValidators(ids)
	connect(t, a, b)
	for i := range 10 {
		if err := a.BroadcastConsensus(seqMsg(uint64(i), 16)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, testWait, "messages written", func() bool { return a.Stats().ConsensusSent >= 10 })
	if len(ownGoroutines()) < 4 {
		t.Fatalf("the goroutine probe sees only %d host goroutines while hosts run", len(ownGoroutines()))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	waitFor(t, 5*time.Second, "host goroutines to exit", func() bool { return len(ownGoroutines()) == 0 })
	if err := a.PublishTxs(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("PublishTxs after Close: %v, want ErrClosed", err)
	}
}

func mustPeerID(t testing.TB, keyIndex int) peer.ID {
	t.Helper()
	id, err := PeerIDFromKey(testKey(t, keyIndex).Public())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// ownGoroutines lists stacks of goroutines running code of this package
// (not its tests).
func ownGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var own []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "synod/p2p.(*") && !strings.Contains(g, "_test.go") {
			own = append(own, g)
		}
	}
	return own
}
