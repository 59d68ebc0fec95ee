package p2p

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Fixtures shared by the package's tests. Keys come from fixed seeds and
// every host listens on 127.0.0.1 with a kernel-chosen port.

const testChain = "synod-p2p-test"

// testWait bounds every wait for a network condition.
const testWait = 15 * time.Second

func testKey(t testing.TB, i int) crypto.PrivateKey {
	t.Helper()
	var seed [crypto.SeedBytes]byte
	copy(seed[:], "synod-p2p-fixture")
	seed[30], seed[31] = byte(i>>8), byte(i)
	k, err := crypto.PrivateKeyFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testLogger() *slog.Logger {
	if os.Getenv("SYNOD_P2P_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func testConfig(t testing.TB, keyIndex int) Config {
	cfg := DefaultConfig()
	cfg.ChainID = testChain
	cfg.Key = testKey(t, keyIndex)
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.DialTimeout = 2 * time.Second
	cfg.ReconnectDelayMin = 20 * time.Millisecond
	cfg.ReconnectDelayMax = 200 * time.Millisecond
	cfg.TxScoreInspectInterval = 100 * time.Millisecond
	cfg.SyncTimeout = 5 * time.Second
	cfg.Logger = testLogger()
	cfg.Rand = rand.New(rand.NewPCG(uint64(keyIndex), 7))
	return cfg
}

// startHost starts a host and closes it when the test ends.
func startHost(t testing.TB, cfg Config, h Handlers) *Host {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	n, err := New(ctx, cfg, h)
	if err != nil {
		t.Fatalf("start host: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close host: %v", err)
		}
	})
	return n
}

func addrInfo(n *Host) peer.AddrInfo { return peer.AddrInfo{ID: n.ID(), Addrs: n.h.Addrs()} }

func connect(t testing.TB, a, b *Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := a.h.Connect(ctx, addrInfo(b)); err != nil {
		t.Fatalf("connect %s -> %s: %v", a.ID().ShortString(), b.ID().ShortString(), err)
	}
}

// waitFor polls cond every 10 ms for at most d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitTopicPeers waits until every host sees every other on the tx topic.
func waitTopicPeers(t testing.TB, hosts ...*Host) {
	t.Helper()
	waitFor(t, testWait, "tx topic peers", func() bool {
		for _, h := range hosts {
			if len(h.TxTopicPeers()) < len(hosts)-1 {
				return false
			}
		}
		return true
	})
}

func signedTx(t testing.TB, key crypto.PrivateKey, nonce uint64, memo string) *ledger.Tx {
	tx := &ledger.Tx{ChainID: testChain, Nonce: nonce, To: testKey(t, 999).Public().Address(), Amount: 1, Fee: 1, Memo: []byte(memo)}
	tx.Sign(key)
	return tx
}

// txSink collects delivered txs by hash.
type txSink struct {
	mu   sync.Mutex
	seen map[crypto.Hash]peer.ID
	n    int
}

func newTxSink() *txSink { return &txSink{seen: make(map[crypto.Hash]peer.ID)} }

func (s *txSink) onTxs(from peer.ID, txs []*ledger.Tx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tx := range txs {
		s.seen[tx.Hash()] = from
		s.n++
	}
}

func (s *txSink) has(h crypto.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seen[h]
	return ok
}

func (s *txSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func checkTx(tx *ledger.Tx) error { return ledger.CheckTx(testChain, tx) }
