package p2p

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/ledger"
)

// BenchmarkLatencyDirectVsGossip measures the one-way latency (round trip
// / 2) of a one-tx payload between two hosts on loopback TCP, over the
// consensus transport's direct stream and over the gossipsub tx topic, in
// the same run, interleaved, so the figures share the machine's state.
// The gossip side runs with ValidateTx unset (decode only), so the
// difference is the transport's, not signature checking's.
//
//	go test -run '^$' -bench LatencyDirectVsGossip -benchtime 2000x ./p2p/
func BenchmarkLatencyDirectVsGossip(b *testing.B) {
	directEcho := make(chan struct{}, 1)
	gossipEcho := make(chan struct{}, 1)
	var hostB *Host
	pongs := make(map[uint64]*ledger.Tx)
	pongsReady := make(chan struct{})
	cfgA, cfgB := testConfig(b, 0), testConfig(b, 1)
	a := startHost(b, cfgA, Handlers{
		OnConsensus: func(peer.ID, []byte) { directEcho <- struct{}{} },
		OnTxs:       func(peer.ID, []*ledger.Tx) { gossipEcho <- struct{}{} },
	})
	hostB = startHost(b, cfgB, Handlers{
		OnConsensus: func(from peer.ID, msg []byte) {
			if err := hostB.SendConsensus(from, msg); err != nil {
				b.Error(err)
			}
		},
		OnTxs: func(_ peer.ID, txs []*ledger.Tx) {
			<-pongsReady
			if err := hostB.PublishTxs([]*ledger.Tx{pongs[txs[0].Nonce]}); err != nil {
				b.Error(err)
			}
		},
	})
	ids := []peer.ID{a.ID(), hostB.ID()}
	a.SetValidators(ids)
	hostB.SetValidators(ids)
	connect(b, a, hostB)
	waitTopicPeers(b, a, hostB)

	pingKey, pongKey := testKey(b, 300), testKey(b, 301)
	pings := make([]*ledger.Tx, b.N)
	for i := range b.N {
		pings[i] = signedTx(b, pingKey, uint64(i), "latency probe")
		pongs[uint64(i)] = signedTx(b, pongKey, uint64(i), "latency probe")
	}
	close(pongsReady)
	payload := EncodeTxBatch(pings[:1])

	var direct, gossip time.Duration
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := a.SendConsensus(hostB.ID(), payload); err != nil {
			b.Fatal(err)
		}
		select {
		case <-directEcho:
		case <-timeout.C:
			b.Fatalf("direct echo %d timed out", i)
		}
		direct += time.Since(start)

		start = time.Now()
		if err := a.PublishTxs(pings[i : i+1]); err != nil {
			b.Fatal(err)
		}
		select {
		case <-gossipEcho:
		case <-timeout.C:
			b.Fatalf("gossip echo %d timed out", i)
		}
		gossip += time.Since(start)
	}
	b.StopTimer()
	directOneWay := float64(direct.Microseconds()) / float64(2*b.N)
	gossipOneWay := float64(gossip.Microseconds()) / float64(2*b.N)
	b.ReportMetric(directOneWay, "direct-oneway-µs")
	b.ReportMetric(gossipOneWay, "gossip-oneway-µs")
	if directOneWay > 0 {
		b.ReportMetric(gossipOneWay/directOneWay, "gossip/direct")
	}
}
