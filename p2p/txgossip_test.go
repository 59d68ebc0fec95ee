package p2p

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

func TestTxGossipDeliversEveryTx(t *testing.T) {
	// Goal: with flood publishing and a deep per-peer queue, every one of
	// N txs published in a tight loop right after subscription reaches
	// both other hosts. Method: three hosts in a triangle on loopback, 300
	// txs in 30 PublishTxs calls plus one call split into many batches.
	hosts, sinks := startConnectedSinks(t, 3, func(cfg *Config) { cfg.TxBatchTxsMax = 16 })

	key := testKey(t, 100)
	var want []crypto.Hash
	for call := range 30 {
		var txs []*ledger.Tx
		for j := range 10 {
			tx := signedTx(t, key, uint64(call*10+j), "")
			txs = append(txs, tx)
			want = append(want, tx.Hash())
		}
		if err := hosts[0].PublishTxs(txs); err != nil {
			t.Fatalf("publish %d: %v", call, err)
		}
	}
	var big []*ledger.Tx
	for j := range 100 {
		tx := signedTx(t, key, uint64(1000+j), "batched")
		big = append(big, tx)
		want = append(want, tx.Hash())
	}
	if err := hosts[0].PublishTxs(big); err != nil {
		t.Fatalf("publish big: %v", err)
	}
	if got := hosts[0].Stats().TxBatchesPublished; got != 30+7 {
		t.Errorf("published %d batches, want 37 (100 txs in batches of at most 16)", got)
	}
	for _, i := range []int{1, 2} {
		waitFor(t, testWait, fmt.Sprintf("host %d to get %d txs", i, len(want)), func() bool {
			return sinks[i].count() == len(want)
		})
		for _, h := range want {
			if !sinks[i].has(h) {
				t.Fatalf("host %d is missing tx %s", i, h.Short())
			}
		}
	}
	if sinks[0].count() != 0 {
		t.Errorf("publisher got %d of its own txs back in OnTxs", sinks[0].count())
	}
}

var errDuplicate = errors.New("mempool: duplicate")

func TestTxValidatorRejectIgnoreAccept(t *testing.T) {
	// Goal: the validator maps the node's verdicts onto gossipsub's:
	// provably invalid → reject (counted, sender's score drops), stale or
	// duplicate → ignore, valid → accept with only the valid txs delivered.
	// Method: host B's ValidateTx judges by memo and signature; host A
	// publishes one batch per case.
	sink := newTxSink()
	validate := func(tx *ledger.Tx) error {
		switch string(tx.Memo) {
		case "dup":
			return errDuplicate
		case "bad":
			return fmt.Errorf("mempool: %w: sender is banned", ErrInvalid)
		}
		return ledger.CheckTx(testChain, tx)
	}
	a := startHost(t, testConfig(t, 0), Handlers{ValidateTx: checkTx})
	b := startHost(t, testConfig(t, 1), Handlers{ValidateTx: validate, OnTxs: sink.onTxs})
	connect(t, a, b)
	waitTopicPeers(t, a, b)

	key := testKey(t, 100)
	good := signedTx(t, key, 0, "")
	good2 := signedTx(t, key, 1, "")
	forged := signedTx(t, key, 2, "")
	forged.Signature[0] ^= 1
	publish := func(txs ...*ledger.Tx) {
		t.Helper()
		if err := a.PublishTxs(txs); err != nil {
			t.Fatal(err)
		}
	}
	publish(good)
	publish(signedTx(t, key, 3, "dup"))
	publish(good2, signedTx(t, key, 4, "dup"))
	publish(signedTx(t, key, 5, "bad"))
	publish(forged)
	publish(signedTx(t, key, 6, ""), forged) // one forged tx taints its batch
	waitFor(t, testWait, "six batches judged", func() bool {
		s := b.Stats()
		return s.TxBatchesAccepted+s.TxBatchesIgnored+s.TxBatchesRejected == 6
	})
	s := b.Stats()
	if s.TxBatchesAccepted != 2 || s.TxBatchesIgnored != 1 || s.TxBatchesRejected != 3 {
		t.Errorf("accepted/ignored/rejected = %d/%d/%d, want 2/1/3", s.TxBatchesAccepted, s.TxBatchesIgnored, s.TxBatchesRejected)
	}
	waitFor(t, testWait, "two txs delivered", func() bool { return sink.count() == 2 })
	if !sink.has(good.Hash()) || !sink.has(good2.Hash()) {
		t.Errorf("delivered txs are not the two valid ones")
	}
	waitFor(t, testWait, "A's score at B to turn negative", func() bool {
		score, ok := b.TxPeerScores()[a.ID()]
		return ok && score < 0
	})
}

func TestIsInvalidClassifiesLedgerErrors(t *testing.T) {
	// Goal: stateless ledger errors punish, state-dependent ones do not.
	// Method: classify each sentinel, wrapped as a mempool would.
	for _, err := range []error{ErrInvalid, ErrMalformed, ledger.ErrTxBadSignature, ledger.ErrTxWrongChain,
		ledger.ErrTxBadSender, ledger.ErrTxMemoTooLarge, ledger.ErrTxAmountOverflow, ledger.ErrTxTooLarge, ledger.ErrMalformed} {
		if !IsInvalid(fmt.Errorf("mempool: %w", err)) {
			t.Errorf("%v: not classified invalid", err)
		}
	}
	for _, err := range []error{ledger.ErrTxNonceTooLow, ledger.ErrTxNonceGap, ledger.ErrTxInsufficientFunds, errDuplicate, nil} {
		if IsInvalid(err) {
			t.Errorf("%v: classified invalid", err)
		}
	}
}

func TestTxGossipGraylistsInvalidFlooder(t *testing.T) {
	// Goal: a peer flooding txs with forged signatures is graylisted by
	// the honest hosts (its messages dropped unread, even valid ones),
	// while honest txs keep flowing. Method: honest A and B check
	// signatures; attacker M publishes forged batches (its own host does
	// not check what it publishes); then M's valid tx must not arrive
	// while all of A's txs do.
	sinkA, sinkB := newTxSink(), newTxSink()
	a := startHost(t, testConfig(t, 0), Handlers{ValidateTx: checkTx, OnTxs: sinkA.onTxs})
	b := startHost(t, testConfig(t, 1), Handlers{ValidateTx: checkTx, OnTxs: sinkB.onTxs})
	m := startHost(t, testConfig(t, 2), Handlers{})
	connect(t, a, b)
	connect(t, m, a)
	connect(t, m, b)
	waitTopicPeers(t, a, b, m)

	attacker := testKey(t, 200)
	for i := range 40 {
		tx := signedTx(t, attacker, uint64(i), "garbage")
		tx.Signature[5] ^= 0xff
		if err := m.PublishTxs([]*ledger.Tx{tx}); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []*Host{a, b} {
		waitFor(t, testWait, "attacker graylisted", func() bool {
			score, ok := h.TxPeerScores()[m.ID()]
			return ok && score < TxGraylistThreshold
		})
	}

	spoof := signedTx(t, attacker, 1000, "valid but from a graylisted peer")
	if err := m.PublishTxs([]*ledger.Tx{spoof}); err != nil {
		t.Fatal(err)
	}
	honest := testKey(t, 201)
	var want []crypto.Hash
	for i := range 20 {
		tx := signedTx(t, honest, uint64(i), "")
		want = append(want, tx.Hash())
		if err := a.PublishTxs([]*ledger.Tx{tx}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, testWait, "honest txs at B", func() bool { return sinkB.count() == len(want) })
	for _, h := range want {
		if !sinkB.has(h) {
			t.Fatalf("B is missing honest tx %s", h.Short())
		}
	}
	// Give the spoofed tx the time the 20 honest ones took, and more.
	time.Sleep(500 * time.Millisecond)
	if sinkA.has(spoof.Hash()) || sinkB.has(spoof.Hash()) {
		t.Errorf("a graylisted peer's message was delivered")
	}
	if r := a.Stats().TxBatchesRejected + b.Stats().TxBatchesRejected; r == 0 {
		t.Errorf("no batch was rejected")
	}
	if score := b.TxPeerScores()[a.ID()]; score < 0 {
		t.Errorf("honest A's score at B is %v, want >= 0", score)
	}
}

func TestTxGossipRepublishReachesPeersAgain(t *testing.T) {
	// Goal: publishing the same txs again (a rebroadcast) is a new gossip
	// message that peers validate, not a copy the router drops as seen;
	// otherwise a batch first published before any peer subscribed could
	// not be re-gossiped for minutes. Method: two hosts, the same one-tx
	// batch published twice; the receiver's validator must run twice.
	var validations [2]int
	var mu [2]chan struct{}
	var hosts [2]*Host
	for i := range hosts {
		mu[i] = make(chan struct{}, 1)
		mu[i] <- struct{}{}
		cfg := testConfig(t, i)
		hosts[i] = startHost(t, cfg, Handlers{ValidateTxs: func(txs []*ledger.Tx) []error {
			<-mu[i]
			validations[i]++
			mu[i] <- struct{}{}
			return make([]error, len(txs))
		}})
	}
	connect(t, hosts[0], hosts[1])
	waitTopicPeers(t, hosts[:]...)
	count := func() int { <-mu[1]; defer func() { mu[1] <- struct{}{} }(); return validations[1] }
	tx := signedTx(t, testKey(t, 100), 0, "")
	for round := 1; round <= 2; round++ {
		if err := hosts[0].PublishTxs([]*ledger.Tx{tx}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, testWait, fmt.Sprintf("validation %d of the republished tx", round), func() bool { return count() >= round })
	}
}

func TestTxGossipCountsDuplicates(t *testing.T) {
	// Goal: a copy of a message already seen is counted, so an operator
	// can see what forwarding costs. Method: three hosts all connected;
	// host 0 publishes to both others, and each forwards to the other, so
	// hosts 1 and 2 see every message twice once their mesh has formed
	// (a mesh degree of 6 puts every peer in it).
	hosts, _ := startConnectedSinks(t, 3, func(cfg *Config) { cfg.TxMeshDegree = 6 })
	if d := hosts[1].Stats().TxDuplicates + hosts[2].Stats().TxDuplicates; d != 0 {
		t.Fatalf("duplicates before any publication: %d", d)
	}
	key := testKey(t, 100)
	nonce := uint64(0)
	waitFor(t, testWait, "a duplicate counted on host 1 or 2", func() bool {
		if err := hosts[0].PublishTxs([]*ledger.Tx{signedTx(t, key, nonce, "")}); err != nil {
			t.Fatal(err)
		}
		nonce++
		return hosts[1].Stats().TxDuplicates+hosts[2].Stats().TxDuplicates > 0
	})
}

func TestTxMeshDegreeBoundsForwarding(t *testing.T) {
	// Goal: TxMeshDegree reaches gossipsub and bounds how many copies of
	// each message the network carries. Method: seven hosts, all
	// connected; once the mesh has settled (two heartbeats), host 0
	// publishes 30 one-tx messages. Every receiver forwards a new message
	// to its mesh peers but the sender, so the duplicates per message are
	// the forwards the mesh makes beyond the 6 first deliveries. With
	// degree 6 the mesh is every peer: 6 receivers x 5 forwards = 30 per
	// message. With degree 2 a mesh holds at most 3 peers once the
	// heartbeat has pruned it: at most 18, typically about 10.
	if testing.Short() {
		t.Skip("settles a 7-host mesh twice")
	}
	const hostsN, msgs = 7, 30
	for _, c := range []struct {
		degree int
		lo, hi float64 // duplicates per message
	}{{2, 0, 20}, {6, 25, 30}} {
		t.Run(fmt.Sprintf("degree %d", c.degree), func(t *testing.T) {
			hosts, sinks := startConnectedSinks(t, hostsN, func(cfg *Config) { cfg.TxMeshDegree = c.degree })
			time.Sleep(2500 * time.Millisecond) // two heartbeats graft and prune the mesh
			before := uint64(0)
			for _, h := range hosts {
				before += h.Stats().TxDuplicates
			}
			publishSingles(t, hosts[0], msgs)
			waitAllGot(t, sinks[1:], msgs)
			time.Sleep(500 * time.Millisecond) // forwards still in flight
			after := uint64(0)
			for _, h := range hosts {
				after += h.Stats().TxDuplicates
			}
			perMsg := float64(after-before) / msgs
			t.Logf("degree %d: %.1f duplicates per message", c.degree, perMsg)
			if perMsg < c.lo || perMsg > c.hi {
				t.Fatalf("degree %d: %.1f duplicates per message, want %v..%v", c.degree, perMsg, c.lo, c.hi)
			}
		})
	}
}

func TestTxGossipLineReachesEveryHost(t *testing.T) {
	// Goal: with the default mesh degree of 2, a message still reaches
	// hosts that are not connected to its origin (a sparse network).
	// Method: seven hosts in a line (i connects to i+1 only), so host 6
	// is six hops from host 0; host 0 publishes 20 txs and every host
	// must get all of them. (Mesh forwarding carries them at once; lazy
	// gossip would too, a heartbeat per hop, so this checks delivery,
	// not which of the two did it.)
	const hostsN, txs = 7, 20
	hosts := make([]*Host, hostsN)
	sinks := make([]*txSink, hostsN)
	for i := range hosts {
		sinks[i] = newTxSink()
		cfg := testConfig(t, i)
		if cfg.TxMeshDegree != 2 {
			t.Fatalf("default TxMeshDegree %d, this test is about 2", cfg.TxMeshDegree)
		}
		hosts[i] = startHost(t, cfg, Handlers{ValidateTx: checkTx, OnTxs: sinks[i].onTxs})
	}
	for i := 0; i+1 < hostsN; i++ {
		connect(t, hosts[i], hosts[i+1])
	}
	waitFor(t, testWait, "tx topic neighbours", func() bool {
		for i, h := range hosts {
			want := 2
			if i == 0 || i == hostsN-1 {
				want = 1
			}
			if len(h.TxTopicPeers()) < want {
				return false
			}
		}
		return true
	})
	// A host forwards only to its mesh, which the heartbeat (every
	// second) fills once the neighbours are known; before that a message
	// stops at the origin's neighbours, at any degree (the node's
	// rebroadcast covers that).
	time.Sleep(2500 * time.Millisecond)
	publishSingles(t, hosts[0], txs)
	waitAllGot(t, sinks[1:], txs)
}

// publishSingles publishes n txs of one sender from h, one per message.
func publishSingles(t *testing.T, h *Host, n int) {
	t.Helper()
	key := testKey(t, 100)
	for nonce := range uint64(n) {
		if err := h.PublishTxs([]*ledger.Tx{signedTx(t, key, nonce, "")}); err != nil {
			t.Fatal(err)
		}
	}
}

// waitAllGot waits until every sink holds n txs.
func waitAllGot(t *testing.T, sinks []*txSink, n int) {
	t.Helper()
	for i, s := range sinks {
		waitFor(t, testWait, fmt.Sprintf("receiver %d to get %d txs", i, n), func() bool { return s.count() == n })
	}
}

func TestTxMeshDegreeRangeStarts(t *testing.T) {
	// Goal: every degree the config accepts gives gossipsub parameters it
	// accepts too (D, Dlo, Dhi, Dscore and Dout obey its rules), so no
	// valid config fails at start. Method: start a host at each degree.
	for d := TxMeshDegreeMin; d <= TxMeshDegreeMax; d++ {
		cfg := testConfig(t, d)
		cfg.TxMeshDegree = d
		startHost(t, cfg, Handlers{ValidateTx: checkTx})
	}
	cfg := testConfig(t, 0)
	cfg.TxMeshDegree = TxMeshDegreeMin - 1
	if _, err := New(context.Background(), cfg, Handlers{ValidateTx: checkTx}); !errors.Is(err, ErrConfig) {
		t.Fatalf("degree %d: got %v, want ErrConfig", cfg.TxMeshDegree, err)
	}
}

// startConnectedSinks starts n hosts, each with testConfig changed by
// tweak and a sink for the txs it receives, connects every pair, and
// waits until each sees all the others on the tx topic.
func startConnectedSinks(t *testing.T, n int, tweak func(*Config)) ([]*Host, []*txSink) {
	t.Helper()
	hosts := make([]*Host, n)
	sinks := make([]*txSink, n)
	for i := range hosts {
		sinks[i] = newTxSink()
		cfg := testConfig(t, i)
		tweak(&cfg)
		hosts[i] = startHost(t, cfg, Handlers{ValidateTx: checkTx, OnTxs: sinks[i].onTxs})
	}
	for i := range hosts {
		for j := i + 1; j < n; j++ {
			connect(t, hosts[i], hosts[j])
		}
	}
	waitTopicPeers(t, hosts...)
	return hosts, sinks
}

func TestTxGossipPublishesTxGivenTwice(t *testing.T) {
	// Goal: a tx handed to PublishTxs twice in one call (the node's gossip
	// batcher collects for up to 100 ms, and a tx evicted from the pool
	// and admitted again in that time is queued twice) does not make the
	// batch one that every validator, the publisher's own included,
	// rejects as malformed, losing its other txs until a rebroadcast.
	// Method: two hosts; one call with a tx repeated; both txs arrive.
	hosts, sinks := startConnectedSinks(t, 2, func(*Config) {})
	key := testKey(t, 100)
	a, b := signedTx(t, key, 0, ""), signedTx(t, key, 1, "")
	if err := hosts[0].PublishTxs([]*ledger.Tx{a, b, a}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitFor(t, testWait, "both txs at host 1", func() bool { return sinks[1].has(a.Hash()) && sinks[1].has(b.Hash()) })
	if got := hosts[0].Stats().TxsPublished; got != 2 {
		t.Errorf("published %d txs, want 2", got)
	}
}

func TestTxGossipCountsMessagesDroppedOnFullValidationQueue(t *testing.T) {
	// Goal: a gossip message that gossipsub drops because the validation
	// queue is full is counted, not lost without a trace. Method: the
	// receiver's validator blocks, its queue holds one message; the
	// sender publishes 20 one-tx messages; then the validator is freed.
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	sender := startHost(t, testConfig(t, 0), Handlers{ValidateTx: checkTx})
	cfg := testConfig(t, 1)
	cfg.TxValidateQueueLen = 1
	receiver := startHost(t, cfg, Handlers{ValidateTx: func(tx *ledger.Tx) error { <-release; return nil }})
	connect(t, sender, receiver)
	waitTopicPeers(t, sender, receiver)
	key := testKey(t, 100)
	const messages = 20
	for i := range messages {
		if err := sender.PublishTxs([]*ledger.Tx{signedTx(t, key, uint64(i), "")}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, testWait, "a throttled message", func() bool { return receiver.Stats().TxBatchesThrottled > 0 })
	free()
	waitFor(t, testWait, "every message accepted or throttled", func() bool {
		s := receiver.Stats()
		return s.TxBatchesAccepted+s.TxBatchesThrottled == messages
	})
}
