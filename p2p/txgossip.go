package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/ledger"
)

// Peer score thresholds of the tx topic. One invalid message costs
// invalidMessageWeight times the square of the (decaying) count of
// invalid messages, so a handful of garbage batches sink a peer below
// the graylist threshold, while an honest peer's positive score is capped
// at txTopicScoreCap and cannot be banked to hide an attack.
const (
	txGossipThreshold    = -50
	txPublishThreshold   = -100
	txGraylistThreshold  = -400
	txTopicScoreCap      = 10
	invalidMessageWeight = -10
	// invalidMessageDecay forgets an invalid message slowly: about 1% a
	// second, so a graylisted flooder stays graylisted for minutes.
	invalidMessageDecay = 0.99
	// pubsubRPCOverheadBytes is room for protobuf framing around the
	// largest batch in one pubsub RPC.
	pubsubRPCOverheadBytes = 64 << 10
)

// txGossip is the gossipsub side of the host: one topic, one validator,
// one subscription loop.
type txGossip struct {
	n           *Host
	ps          *pubsub.PubSub
	topic       *pubsub.Topic
	sub         *pubsub.Subscription
	name        string
	validate    func(*ledger.Tx) error
	validateAll func([]*ledger.Tx) []error
	onTxs       func(peer.ID, []*ledger.Tx)

	scoresMu sync.Mutex
	scores   map[peer.ID]float64
}

// txMessageID names a gossip message by the SHA-256 of its payload: with
// no author and no sequence number, the content is the identity, and the
// same batch from two peers is one message.
func txMessageID(m *pb.Message) string {
	sum := sha256.Sum256(m.GetData())
	return string(sum[:])
}

// txMeshParams is gossipsub's default parameters with the mesh sized
// around degree d (Config.TxMeshDegree, at least 2): the mesh is kept
// between d-1 and d+1 peers, so a node forwards each new message to at
// most d+1 others. Dscore and Dout scale down with d as gossipsub's
// defaults (4 and 2 of 6) do, within its rules Dscore <= Dhi and
// Dout < min(Dlo, d/2).
func txMeshParams(d int) pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.D, p.Dlo, p.Dhi = d, d-1, d+1
	p.Dscore = min(p.Dscore, 2*d/3)
	p.Dout = max(0, d/2-1)
	return p
}

func startTxGossip(n *Host, h Handlers) (*txGossip, error) {
	g := &txGossip{n: n, name: txTopic(n.cfg.ChainID), validate: h.ValidateTx, validateAll: h.ValidateTxs, onTxs: h.OnTxs,
		scores: make(map[peer.ID]float64)}
	params, thresholds := txScoreParams(g.name)
	ps, err := pubsub.NewGossipSub(n.ctx, n.h,
		pubsub.WithGossipSubParams(txMeshParams(n.cfg.TxMeshDegree)),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(txMessageID),
		pubsub.WithFloodPublish(true),
		pubsub.WithPeerOutboundQueueSize(n.cfg.TxPeerOutboundQueueLen),
		pubsub.WithValidateQueueSize(n.cfg.TxValidateQueueLen),
		pubsub.WithMaxMessageSize(max(pubsub.DefaultMaxMessageSize, n.cfg.TxBatchBytesMax+pubsubRPCOverheadBytes)),
		pubsub.WithPeerScore(params, thresholds),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(g.storeScores), n.cfg.TxScoreInspectInterval),
		pubsub.WithRawTracer(gossipTracer{stats: n.stats}),
	)
	if err != nil {
		return nil, fmt.Errorf("p2p: start gossipsub: %w", err)
	}
	g.ps = ps
	// Inline validation runs in pubsub's fixed pool of workers fed by the
	// bounded validation queue: a flood queues or is dropped, it never
	// spawns goroutines.
	if err := ps.RegisterTopicValidator(g.name, g.validateMsg, pubsub.WithValidatorInline(true)); err != nil {
		return nil, fmt.Errorf("p2p: register tx validator: %w", err)
	}
	if g.topic, err = ps.Join(g.name); err != nil {
		return nil, fmt.Errorf("p2p: join %s: %w", g.name, err)
	}
	if g.sub, err = g.topic.Subscribe(pubsub.WithBufferSize(n.cfg.TxSubscriptionQueueLen)); err != nil {
		return nil, fmt.Errorf("p2p: subscribe %s: %w", g.name, err)
	}
	n.wg.Add(1)
	go g.deliver()
	return g, nil
}

// txScoreParams weigh invalid messages heavily, reward first deliveries a
// little, and disable the mesh-delivery-rate penalties: tx traffic is
// bursty, and an idle honest peer must not look like a lazy one.
func txScoreParams(topic string) (*pubsub.PeerScoreParams, *pubsub.PeerScoreThresholds) {
	_, loop4, _ := net.ParseCIDR("127.0.0.0/8")
	_, loop6, _ := net.ParseCIDR("::1/128")
	params := &pubsub.PeerScoreParams{
		Topics: map[string]*pubsub.TopicScoreParams{topic: {
			SkipAtomicValidation:           true,
			TopicWeight:                    1,
			TimeInMeshWeight:               0.01,
			TimeInMeshQuantum:              time.Second,
			TimeInMeshCap:                  300,
			FirstMessageDeliveriesWeight:   1,
			FirstMessageDeliveriesDecay:    0.9,
			FirstMessageDeliveriesCap:      20,
			InvalidMessageDeliveriesWeight: invalidMessageWeight,
			InvalidMessageDeliveriesDecay:  invalidMessageDecay,
		}},
		TopicScoreCap:               txTopicScoreCap,
		AppSpecificScore:            func(peer.ID) float64 { return 0 },
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    -10,
		IPColocationFactorThreshold: 8,
		// A local testnet runs every node on loopback.
		IPColocationFactorWhitelist: []*net.IPNet{loop4, loop6},
		BehaviourPenaltyWeight:      -10,
		BehaviourPenaltyThreshold:   6,
		BehaviourPenaltyDecay:       0.99,
		DecayInterval:               time.Second,
		DecayToZero:                 0.01,
		RetainScore:                 10 * time.Minute,
	}
	thresholds := &pubsub.PeerScoreThresholds{
		GossipThreshold:             txGossipThreshold,
		PublishThreshold:            txPublishThreshold,
		GraylistThreshold:           txGraylistThreshold,
		AcceptPXThreshold:           100,
		OpportunisticGraftThreshold: 1,
	}
	return params, thresholds
}

// IsInvalid reports whether err says a tx is provably invalid: it wraps
// ErrInvalid, or one of ledger's stateless tx errors (encoding, size,
// chain id, sender key, signature, overflow). Everything else (nonce,
// balance, duplicates, a full mempool) depends on state and time.
func IsInvalid(err error) bool {
	for _, target := range []error{ErrInvalid, ledger.ErrMalformed, ledger.ErrTxTooLarge,
		ledger.ErrTxWrongChain, ledger.ErrTxBadSignature, ledger.ErrTxBadSender,
		ledger.ErrTxMemoTooLarge, ledger.ErrTxAmountOverflow} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// validateMsg runs before a message is forwarded. A batch with one
// provably invalid tx is rejected whole (its sender signed or forwarded
// garbage); a batch with nothing new is ignored; otherwise it is accepted
// and the txs that passed ride along to deliver.
func (g *txGossip) validateMsg(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	txs, err := DecodeTxBatch(msg.GetData(), g.n.cfg.TxBatchTxsMax, g.n.cfg.TxBatchBytesMax)
	if err != nil {
		g.n.stats.txBatchesRejected.Add(1)
		g.n.log.Debug("tx batch rejected", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	if from == g.n.h.ID() {
		// PublishTxs trusts its caller: the node publishes txs its own
		// mempool already accepted, which a second check would call
		// duplicates.
		return pubsub.ValidationAccept
	}
	accepted := make([]*ledger.Tx, 0, len(txs))
	var verdicts []error
	if g.validateAll != nil {
		if verdicts = g.validateAll(txs); len(verdicts) != len(txs) {
			panic(fmt.Sprintf("p2p: ValidateTxs returned %d verdicts for %d txs", len(verdicts), len(txs)))
		}
	}
	for i, tx := range txs {
		var err error
		switch {
		case verdicts != nil:
			err = verdicts[i]
		case g.validate != nil:
			err = g.validate(tx)
		}
		switch {
		case err == nil:
			accepted = append(accepted, tx)
		case IsInvalid(err):
			g.n.stats.txBatchesRejected.Add(1)
			g.n.log.Debug("tx batch rejected", "from", from, "tx", i, "err", err)
			return pubsub.ValidationReject
		}
	}
	if len(accepted) == 0 {
		g.n.stats.txBatchesIgnored.Add(1)
		return pubsub.ValidationIgnore
	}
	g.n.stats.txBatchesAccepted.Add(1)
	msg.ValidatorData = accepted
	return pubsub.ValidationAccept
}

// deliver hands validated peers' txs to OnTxs until Close.
func (g *txGossip) deliver() {
	defer g.n.wg.Done()
	for {
		msg, err := g.sub.Next(g.n.ctx)
		if err != nil {
			return
		}
		if msg.ReceivedFrom == g.n.h.ID() {
			continue // our own publication
		}
		txs, ok := msg.ValidatorData.([]*ledger.Tx)
		if !ok || len(txs) == 0 {
			continue
		}
		g.n.stats.txsDelivered.Add(uint64(len(txs)))
		if g.onTxs != nil {
			g.onTxs(msg.ReceivedFrom, txs)
		}
	}
}

func (g *txGossip) storeScores(scores map[peer.ID]float64) {
	g.scoresMu.Lock()
	g.scores = maps.Clone(scores)
	g.scoresMu.Unlock()
}

func (g *txGossip) close() {
	g.sub.Cancel()
	if err := g.topic.Close(); err != nil {
		g.n.log.Debug("close tx topic", "err", err)
	}
}

// PublishTxs gossips txs in as few batches as the limits allow. Publish
// only txs the node's mempool accepted: the host does not check its own
// messages against ValidateTx. A tx given twice goes out once: a batch
// that repeats a tx is malformed, and every validator (this host's too)
// would reject it with the other txs in it.
func (n *Host) PublishTxs(txs []*ledger.Tx) error {
	if n.closed() {
		return ErrClosed
	}
	encs := make([][]byte, 0, len(txs))
	seen := make(map[string]struct{}, len(txs))
	for i, tx := range txs {
		enc := tx.Encode()
		if len(enc) > ledger.TxBytesMax {
			return fmt.Errorf("publish txs: tx %d: %w: %d bytes", i, ledger.ErrTxTooLarge, len(enc))
		}
		if _, dup := seen[string(enc)]; dup {
			continue
		}
		seen[string(enc)] = struct{}{}
		encs = append(encs, enc)
	}
	for _, batch := range splitTxBatches(encs, n.cfg.TxBatchTxsMax, n.cfg.TxBatchBytesMax) {
		if err := n.tx.topic.Publish(n.ctx, encodeTxBatch(rand.Uint64(), batch)); err != nil {
			return fmt.Errorf("publish %d txs: %w", len(batch), err)
		}
		n.stats.txBatchesPublished.Add(1)
		n.stats.txsPublished.Add(uint64(len(batch)))
	}
	return nil
}

// TxPeerScores returns gossipsub's latest scores of connected peers on the
// tx topic (refreshed every Config.TxScoreInspectInterval). A score below
// TxGraylistThreshold means the peer's messages are dropped unread.
func (n *Host) TxPeerScores() map[peer.ID]float64 {
	n.tx.scoresMu.Lock()
	defer n.tx.scoresMu.Unlock()
	return maps.Clone(n.tx.scores)
}

// TxGraylistThreshold is the tx-topic score below which a peer is
// graylisted.
const TxGraylistThreshold = txGraylistThreshold

// TxTopicPeers are the peers known to subscribe to the tx topic.
func (n *Host) TxTopicPeers() []peer.ID { return n.tx.topic.ListPeers() }
