package p2p

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Hard ceilings that no configuration may exceed; decoders enforce them
// before they allocate.
const (
	// ConsensusMessageBytesCeiling bounds ConsensusMessageBytesMax: a
	// PRE-PREPARE carries a whole block (ledger.BlockBytesMax) plus its
	// envelope.
	ConsensusMessageBytesCeiling = 64 << 20
	// SyncBlocksCeiling bounds SyncBlocksMax.
	SyncBlocksCeiling = 4096
	// PersistentPeersMax bounds Config.PersistentPeers.
	PersistentPeersMax = 256
	// TxMeshDegreeMin and TxMeshDegreeMax bound Config.TxMeshDegree:
	// gossipsub needs a mesh of at least one peer below the target, and
	// beyond 12 forwarding only multiplies duplicates.
	TxMeshDegreeMin = 2
	TxMeshDegreeMax = 12
	// SyncServeBytesCeiling bounds SyncServeBytesMax.
	SyncServeBytesCeiling = 16 << 30
)

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("p2p: bad config")

// Config configures a Host. Start from DefaultConfig.
type Config struct {
	// ChainID names the topics and protocols; peers on another chain never
	// share one.
	ChainID string
	// Key is the node key; the host's peer id is derived from it.
	Key crypto.PrivateKey
	// ListenAddrs are multiaddrs to listen on, e.g.
	// /ip4/0.0.0.0/tcp/26656 and /ip4/0.0.0.0/udp/26656/quic-v1.
	ListenAddrs []string
	// PersistentPeers are multiaddrs ending in /p2p/<id>, dialled at start
	// and re-dialled whenever they drop.
	PersistentPeers []string

	// ConnsLow and ConnsHigh are the connection manager's watermarks:
	// above ConnsHigh it trims unprotected connections down to ConnsLow.
	ConnsLow, ConnsHigh int
	// ConnGracePeriod protects a new connection from trimming.
	ConnGracePeriod time.Duration
	// DialTimeout bounds one dial of a persistent peer.
	DialTimeout time.Duration
	// ReconnectDelayMin and ReconnectDelayMax bound the exponential backoff
	// between dials of a dropped persistent peer.
	ReconnectDelayMin, ReconnectDelayMax time.Duration

	// TxBatchBytesMax bounds one gossip message (an encoded tx batch).
	TxBatchBytesMax int
	// TxBatchTxsMax bounds the txs in one gossip message.
	TxBatchTxsMax int
	// TxValidateQueueLen bounds gossip messages waiting for validation.
	TxValidateQueueLen int
	// TxPeerOutboundQueueLen is gossipsub's per-peer send queue; the
	// default 32 drops messages under tight publishing loops.
	TxPeerOutboundQueueLen int
	// TxSubscriptionQueueLen bounds validated messages waiting for OnTxs.
	TxSubscriptionQueueLen int
	// TxScoreInspectInterval is how often TxPeerScores is refreshed.
	TxScoreInspectInterval time.Duration
	// TxMeshDegree is gossipsub's target mesh degree D for the tx topic:
	// how many peers forward each new batch on. The origin already floods
	// a batch to every peer it is connected to, so on a validator set
	// that is fully connected every forward is a duplicate; gossipsub's
	// default of 6 made each node of a 7-validator testnet receive every
	// batch about 5 times. 2 keeps a second path for when a direct link
	// fails; larger, sparser networks want more.
	TxMeshDegree int

	// ConsensusMessageBytesMax bounds one consensus message (one frame).
	ConsensusMessageBytesMax int
	// ConsensusQueueLen bounds each peer's outbound and inbound queues in
	// messages; on overflow the oldest message is dropped and counted.
	ConsensusQueueLen int
	// ConsensusQueueBytesMax bounds each peer's outbound and inbound queue
	// in bytes, dropping the oldest like ConsensusQueueLen.
	ConsensusQueueBytesMax int
	// ConsensusInboxBytesMax bounds all peers' inbound queues together;
	// past it the heaviest peer's oldest message is dropped. (Outbound
	// queues share a broadcast message's bytes, so they need no total.)
	ConsensusInboxBytesMax int
	// ConsensusWriteTimeout bounds writing one batch of frames.
	ConsensusWriteTimeout time.Duration
	// ConsensusReadTimeout bounds reading a frame's body once its header
	// arrived; an idle stream may wait for a header indefinitely.
	ConsensusReadTimeout time.Duration

	// SyncBlocksMax bounds the blocks asked for or served in one request.
	SyncBlocksMax int
	// SyncResponseBytesMax bounds one block sync response; a server stops
	// early (after at least one block) rather than exceed it.
	SyncResponseBytesMax int
	// SyncTimeout bounds one whole request and response.
	SyncTimeout time.Duration
	// SyncRequestReadTimeout bounds the wait for a request once a peer
	// opens a sync stream (at most SyncTimeout). A client writes its few
	// bytes at once; a peer that sends part of one would otherwise hold
	// the stream, one of the few each peer may open, for all of
	// SyncTimeout.
	SyncRequestReadTimeout time.Duration
	// SyncServeConcurrencyMax bounds blocks requests served at once; one
	// peer gets at most two of them at a time. A host told a large
	// ValidatorCount serves more, so that the f Byzantine validators'
	// shares never fill it (syncServeSlots in blocksync.go).
	SyncServeConcurrencyMax int
	// SyncServeBytesMax bounds the block and certificate bytes that the
	// requests served at once hold together while writing them to their
	// peers. One peer's requests hold at most a share of it,
	// SyncServeBytesMax / (f + 2), so that the f Byzantine validators
	// leave honest peers room (syncServePeerBytes in blocksync.go). A
	// request that would exceed either waits for room (within its
	// SyncTimeout) before it holds its next block; a block larger than the
	// share is served when its peer holds no other, one larger than the
	// whole budget when no other is held at all. Beyond it, each request
	// served has a 256-KiB write buffer, and the block it just read until
	// it tries to reserve it (never while waiting: holdBlock in
	// blocksync.go). Without it, slow readers holding every slot held
	// slots × a block (up to 16 MiB each, twice): ~640 MiB at n = 25.
	SyncServeBytesMax int
	// ValidatorCount is n, the size of the validator set (from genesis),
	// known before the host starts so that its sync stream limits can be
	// sized from it; 0 if unknown. It never exceeds ledger.ValidatorsMax.
	ValidatorCount int

	// PenaltyThreshold is how many Penalize calls within PenaltyWindow
	// get a peer disconnected and blocked for PenaltyBlockDuration.
	PenaltyThreshold     int
	PenaltyWindow        time.Duration
	PenaltyBlockDuration time.Duration
	// PenaltyPeersMax bounds the penalty table; the stalest entry is
	// forgotten when it is full.
	PenaltyPeersMax int

	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Rand jitters reconnection backoff; nil seeds one from the clock.
	Rand *rand.Rand
	// Now is the clock for penalties; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns sensible limits. ChainID, Key and ListenAddrs are
// still to be set.
func DefaultConfig() Config {
	return Config{
		ConnsLow:                 64,
		ConnsHigh:                128,
		ConnGracePeriod:          30 * time.Second,
		DialTimeout:              10 * time.Second,
		ReconnectDelayMin:        250 * time.Millisecond,
		ReconnectDelayMax:        30 * time.Second,
		TxBatchBytesMax:          256 << 10,
		TxBatchTxsMax:            1024,
		TxValidateQueueLen:       1024,
		TxPeerOutboundQueueLen:   256,
		TxSubscriptionQueueLen:   1024,
		TxScoreInspectInterval:   time.Second,
		TxMeshDegree:             2,
		ConsensusMessageBytesMax: 32 << 20,
		ConsensusQueueLen:        1024,
		ConsensusQueueBytesMax:   64 << 20,
		ConsensusInboxBytesMax:   256 << 20,
		ConsensusWriteTimeout:    30 * time.Second,
		ConsensusReadTimeout:     30 * time.Second,
		SyncBlocksMax:            128,
		SyncResponseBytesMax:     64 << 20,
		SyncTimeout:              60 * time.Second,
		SyncRequestReadTimeout:   5 * time.Second,
		SyncServeConcurrencyMax:  8,
		SyncServeBytesMax:        64 << 20,
		PenaltyThreshold:         10,
		PenaltyWindow:            10 * time.Minute,
		PenaltyBlockDuration:     30 * time.Minute,
		PenaltyPeersMax:          1024,
	}
}

// validate checks ranges; every limit must be positive and below its
// ceiling so no queue or decoder is unbounded.
func (c *Config) validate() error {
	if c.ChainID == "" {
		return fmt.Errorf("%w: chain id is empty", ErrConfig)
	}
	if err := crypto.ValidateChainID(c.ChainID); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.Key.IsZero() {
		return fmt.Errorf("%w: node key is missing", ErrConfig)
	}
	if c.ValidatorCount < 0 || c.ValidatorCount > ledger.ValidatorsMax {
		return fmt.Errorf("%w: ValidatorCount %d not in 0..%d", ErrConfig, c.ValidatorCount, ledger.ValidatorsMax)
	}
	if len(c.PersistentPeers) > PersistentPeersMax {
		return fmt.Errorf("%w: %d persistent peers exceeds %d", ErrConfig, len(c.PersistentPeers), PersistentPeersMax)
	}
	checks := []struct {
		name     string
		val, max int64
	}{
		{"ConnsLow", int64(c.ConnsLow), 100_000},
		{"ConnsHigh", int64(c.ConnsHigh), 100_000},
		{"ConnGracePeriod", int64(c.ConnGracePeriod), int64(time.Hour)},
		{"DialTimeout", int64(c.DialTimeout), int64(time.Hour)},
		{"ReconnectDelayMin", int64(c.ReconnectDelayMin), int64(time.Hour)},
		{"ReconnectDelayMax", int64(c.ReconnectDelayMax), int64(24 * time.Hour)},
		{"TxBatchBytesMax", int64(c.TxBatchBytesMax), 4 << 20},
		{"TxBatchTxsMax", int64(c.TxBatchTxsMax), 65_536},
		{"TxValidateQueueLen", int64(c.TxValidateQueueLen), 1 << 20},
		{"TxPeerOutboundQueueLen", int64(c.TxPeerOutboundQueueLen), 1 << 16},
		{"TxSubscriptionQueueLen", int64(c.TxSubscriptionQueueLen), 1 << 20},
		{"TxScoreInspectInterval", int64(c.TxScoreInspectInterval), int64(time.Hour)},
		{"TxMeshDegree", int64(c.TxMeshDegree), TxMeshDegreeMax},
		{"ConsensusMessageBytesMax", int64(c.ConsensusMessageBytesMax), ConsensusMessageBytesCeiling},
		{"ConsensusQueueLen", int64(c.ConsensusQueueLen), 1 << 20},
		{"ConsensusQueueBytesMax", int64(c.ConsensusQueueBytesMax), 4 << 30},
		{"ConsensusInboxBytesMax", int64(c.ConsensusInboxBytesMax), 16 << 30},
		{"ConsensusWriteTimeout", int64(c.ConsensusWriteTimeout), int64(time.Hour)},
		{"ConsensusReadTimeout", int64(c.ConsensusReadTimeout), int64(time.Hour)},
		{"SyncBlocksMax", int64(c.SyncBlocksMax), SyncBlocksCeiling},
		{"SyncResponseBytesMax", int64(c.SyncResponseBytesMax), 1 << 30},
		{"SyncTimeout", int64(c.SyncTimeout), int64(time.Hour)},
		{"SyncRequestReadTimeout", int64(c.SyncRequestReadTimeout), int64(time.Hour)},
		{"SyncServeConcurrencyMax", int64(c.SyncServeConcurrencyMax), 1024},
		{"SyncServeBytesMax", int64(c.SyncServeBytesMax), SyncServeBytesCeiling},
		{"PenaltyThreshold", int64(c.PenaltyThreshold), 1 << 20},
		{"PenaltyWindow", int64(c.PenaltyWindow), int64(7 * 24 * time.Hour)},
		{"PenaltyBlockDuration", int64(c.PenaltyBlockDuration), int64(7 * 24 * time.Hour)},
		{"PenaltyPeersMax", int64(c.PenaltyPeersMax), 1 << 20},
	}
	for _, ch := range checks {
		if ch.val <= 0 || ch.val > ch.max {
			return fmt.Errorf("%w: %s = %d not in 1..%d", ErrConfig, ch.name, ch.val, ch.max)
		}
	}
	switch {
	case c.ConnsLow > c.ConnsHigh:
		return fmt.Errorf("%w: ConnsLow %d above ConnsHigh %d", ErrConfig, c.ConnsLow, c.ConnsHigh)
	case c.TxMeshDegree < TxMeshDegreeMin:
		return fmt.Errorf("%w: TxMeshDegree %d below %d", ErrConfig, c.TxMeshDegree, TxMeshDegreeMin)
	case c.ReconnectDelayMin > c.ReconnectDelayMax:
		return fmt.Errorf("%w: ReconnectDelayMin above ReconnectDelayMax", ErrConfig)
	case c.TxBatchBytesMax < txBatchHeaderBytes+2+ledger.TxBytesMax:
		return fmt.Errorf("%w: TxBatchBytesMax %d cannot hold one tx", ErrConfig, c.TxBatchBytesMax)
	case c.ConsensusQueueBytesMax < c.ConsensusMessageBytesMax || c.ConsensusInboxBytesMax < c.ConsensusMessageBytesMax:
		return fmt.Errorf("%w: consensus queues cannot hold one ConsensusMessageBytesMax message", ErrConfig)
	case c.SyncResponseBytesMax < syncItemBytesMax(ledger.BlockBytesMax):
		return fmt.Errorf("%w: SyncResponseBytesMax %d cannot hold one full block", ErrConfig, c.SyncResponseBytesMax)
	}
	return nil
}

// Handlers are the node's side of the wiring. Every callback may be called
// from a libp2p goroutine and must not block for long.
type Handlers struct {
	// ValidateTx judges a peer's tx before it is forwarded (chain id,
	// signature, nonce against state: the mempool's check). Return nil to
	// accept, an error wrapping ErrInvalid (or a ledger stateless tx error)
	// for a provably invalid tx, any other error to ignore it (duplicate,
	// stale nonce, mempool full). Nil accepts every well-formed tx.
	ValidateTx func(*ledger.Tx) error
	// ValidateTxs, if set, replaces ValidateTx: it judges a whole gossip
	// message's txs at once (so signatures can be verified in one batch)
	// and returns one verdict per tx, with ValidateTx's meaning.
	ValidateTxs func([]*ledger.Tx) []error
	// OnTxs receives the txs of a peer's gossip message that ValidateTx
	// accepted; from is the peer that forwarded it.
	OnTxs func(from peer.ID, txs []*ledger.Tx)
	// OnConsensus receives consensus messages, one at a time, peers served
	// in turn. msg is owned by the callee. It may wait until its consumer
	// has room, and should rather than drop: meanwhile each peer's
	// messages wait in that peer's bounded queue, so a flooding peer
	// overflows only its own.
	OnConsensus func(from peer.ID, msg []byte)
	// Blocks serves block sync; nil refuses sync requests.
	Blocks BlockSource
}
