package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Queue limits of the consensus loop.
const (
	// inboxStepBatchMax bounds the messages stepped before their output
	// is persisted and sent, so a busy inbox cannot delay a vote for long.
	inboxStepBatchMax = 64
	// inboxMessagesMax is one step batch: the network's messages wait in
	// the host's per-peer queues, served in turn (deliverWait), so a
	// flooding validator delays another's next message by about one
	// message per peer, plus what this inbox holds.
	inboxMessagesMax   = inboxStepBatchMax
	deliveredBlocksMax = 256
)

// ConsensusNetwork carries encoded consensus messages between validators,
// addressed by validator index.
type ConsensusNetwork interface {
	SendConsensus(to int, msg []byte)
	BroadcastConsensus(msg []byte)
}

// TxPool is what the consensus loop needs of the mempool.
type TxPool interface {
	// Executable reports whether some pending tx can run on the committed
	// state (not only txs waiting behind a nonce gap).
	Executable() bool
	// ReapAfter returns candidates for a block, skipping the txs below
	// each sender's next nonce (which blocks in flight hold).
	ReapAfter(maxTxs, maxBytes int, next func(crypto.Address) uint64) []*ledger.Tx
	Update(committed []*ledger.Tx, state ledger.StateReader)
}

// nextNonce reads senders' next nonces in state; a read error gives 0,
// so the sender's txs stay candidates and block building judges them.
func nextNonce(state ledger.StateReader) func(crypto.Address) uint64 {
	return func(a crypto.Address) uint64 {
		acct, err := state.GetAccount(a)
		if err != nil {
			return 0
		}
		return acct.Nonce
	}
}

// CommitObserver hears about every block the node applied, in height order.
type CommitObserver func(b *ledger.Block, cert *ledger.CommitCertificate)

// inboundMessage is a consensus message as it came off the network.
type inboundMessage struct {
	from string // the peer, for logs and penalties
	raw  []byte
}

// deliveredBlock is a committed block fetched by block sync.
type deliveredBlock struct {
	block *ledger.Block
	cert  *ledger.CommitCertificate
}

// driver owns the replica and everything it writes: the pending chain and
// the store, which holds both the chain and the consensus write-ahead
// records. One goroutine (run) does all of it, in the order the engine
// asks for: persist and fsync, send, store and announce the commits (their
// fsync comes with the next step's, see commitReady), advance.
type driver struct {
	log     *slog.Logger
	genesis *ledger.Genesis
	replica *pbft.Replica
	chain   *ledger.PendingChain
	store   *ledger.Store
	net     ConsensusNetwork
	pool    TxPool
	tick    time.Duration
	now     func() time.Time
	inbox   chan inboundMessage
	// votes verifies the signatures of the votes stepped together in one
	// batch (stepAll); the replica's verifier reads its verdicts.
	votes *voteSigs
	// statusReq asks the loop for the replica's one-line state.
	statusReq chan chan string
	// txsArrived tells the loop the mempool got new txs (1-buffered: one
	// pending signal stands for any number of arrivals).
	txsArrived chan struct{}
	synced     chan deliveredBlock
	// stopped is closed when run returns: deliverWait stops waiting.
	stopped chan struct{}
	// applyingSynced is set while the loop handles synced blocks: their
	// batch is stored in the background (storeInBackground), staged over
	// the store until the write in progress (storing, nil if none) ends.
	applyingSynced bool
	staged         *stagedState
	storing        *storeWrite
	observer       CommitObserver
	metrics        *Metrics
	// penalize is told about peers that sent undecodable or badly signed
	// messages.
	penalize func(peer string, reason error)
	// catchUp asks block sync for heights [from, to].
	catchUp func(from, to uint64, peers []uint16)
	// byz, when set, rewrites outgoing messages (a test hook).
	byz *byzantine
	// walLog is what the store's log holds, decoded: the records read at
	// start and every one persisted since, until compaction replaces them
	// with what a restart needs. Compaction works from it and never reads
	// the log back.
	walLog []pbft.Record
	// unsynced: the store holds committed blocks written without an fsync
	// (ledger.Deferred) that no fsync has covered yet.
	unsynced bool
	// currentView and lastCommitMs mirror the loop's state for readers on
	// other goroutines (RPC status, health).
	currentView  atomic.Uint64
	lastCommitMs atomic.Int64
	committedTxs atomic.Uint64 // since this process started

	evidenceMu sync.Mutex
	evidence   []EvidenceSummary // see keepEvidence

	// om and omInbox run OM(m) checkpoint verification (omverify.go);
	// nil unless om_verify.
	om      *omVerifier
	omInbox chan inboundMessage
}

// evidenceKeptMax bounds the evidence a node remembers for its status,
// evidenceKeptPerValidatorMax the part of it one validator may take.
const (
	evidenceKeptMax             = 64
	evidenceKeptPerValidatorMax = 4
)

// EvidenceSummary names a validator caught misbehaving, with proof kept by
// the engine.
type EvidenceSummary struct {
	Validator uint16 `json:"validator"`
	Kind      uint8  `json:"kind"`
	Reason    string `json:"reason"`
}

// keepEvidence remembers e for the status if there is room: the first
// evidenceKeptMax seen, at most evidenceKeptPerValidatorMax of one
// validator. A double-voter offends at every height; with no share per
// validator its first 64 offences filled the list in seconds, and a
// second validator caught later (an honest one that double-signed after
// a restart, say) was never shown.
func (d *driver) keepEvidence(e EvidenceSummary) {
	d.evidenceMu.Lock()
	defer d.evidenceMu.Unlock()
	if len(d.evidence) >= evidenceKeptMax {
		return
	}
	n := 0
	for _, old := range d.evidence {
		if old.Validator == e.Validator {
			n++
		}
	}
	if n < evidenceKeptPerValidatorMax {
		d.evidence = append(d.evidence, e)
	}
}

// evidenceSeen returns a copy of the evidence kept so far.
func (d *driver) evidenceSeen() []EvidenceSummary {
	d.evidenceMu.Lock()
	defer d.evidenceMu.Unlock()
	return append([]EvidenceSummary(nil), d.evidence...)
}

// view is the replica's current view, readable from any goroutine.
func (d *driver) view() (uint64, bool) { return d.currentView.Load(), true }

// lastCommitTime is when this node last applied a block (zero if never
// since start).
func (d *driver) lastCommitTime() time.Time {
	ms := d.lastCommitMs.Load()
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

type driverConfig struct {
	Genesis  *ledger.Genesis
	Self     uint16
	Key      crypto.PrivateKey
	Store    *ledger.Store
	Net      ConsensusNetwork
	Pool     TxPool
	Tick     time.Duration
	Now      func() time.Time
	Observer CommitObserver
	Metrics  *Metrics
	Penalize func(peer string, reason error)
	CatchUp  func(from, to uint64, peers []uint16)
	Logger   *slog.Logger
	// SigCache holds the txs whose signatures the mempool verified, so
	// block validation does not verify them again; nil disables it.
	SigCache *ledger.SigCache
	// VerifiedCerts remembers the commit certificates that verified (see
	// certVerifier), shared with block sync; nil disables it.
	VerifiedCerts *ledger.SigCache
	// TxsArrived, signalled (without blocking) whenever the mempool takes
	// new txs, lets an idle primary propose at once; nil means nobody
	// signals, and proposals wait for ticks and commits.
	TxsArrived chan struct{}
	// EmptyBlockInterval is how often an idle primary proposes.
	EmptyBlockInterval time.Duration
	// Byzantine, a test hook, makes this validator misbehave (see
	// ByzantineModes); empty is honest.
	Byzantine string
	// OMVerify runs OM(m) verification at stable checkpoints; the test
	// hook OMCorruptState makes this validator claim a wrong state root.
	OMVerify, OMCorruptState bool
}

func newDriver(cfg driverConfig) (*driver, error) {
	vals, err := cfg.Genesis.ValidatorSet()
	if err != nil {
		return nil, err
	}
	raw, err := cfg.Store.LogRecords()
	if err != nil {
		return nil, err
	}
	records := make([]pbft.Record, 0, len(raw))
	for i, b := range raw {
		rec, err := pbft.DecodeRecord(b)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %w", ErrWALCorrupt, i, err)
		}
		records = append(records, *rec)
	}
	head := cfg.Store.Head()
	// The block at the highest checkpoint height committed, whose
	// CHECKPOINT the replica signs again (pbft.Config.Checkpoint); nil when
	// the head is at one, which the replica then signs.
	var checkpoint *ledger.Header
	if k := cfg.Genesis.Consensus.CheckpointInterval; k > 0 {
		if h := head.Height / k * k; h > 0 && h < head.Height {
			b, err := cfg.Store.BlockByHeight(h)
			if err != nil {
				return nil, fmt.Errorf("read the block at checkpoint height %d: %w", h, err)
			}
			checkpoint = &b.Header
		}
	}
	staged := &stagedState{store: cfg.Store}
	chain := ledger.NewPendingChain(cfg.Genesis.ChainID, cfg.Genesis.Consensus, head, staged)
	if cfg.SigCache != nil {
		chain.SetSigCache(cfg.SigCache)
	}
	genesisBlock, _ := ledger.GenesisBlock(cfg.Genesis)
	if cfg.TxsArrived == nil {
		cfg.TxsArrived = make(chan struct{}, 1)
	}
	d := &driver{
		log: cfg.Logger, genesis: cfg.Genesis, chain: chain, store: cfg.Store, staged: staged,
		net: cfg.Net, pool: cfg.Pool, tick: cfg.Tick, now: cfg.Now, observer: cfg.Observer,
		metrics: cfg.Metrics, penalize: cfg.Penalize, catchUp: cfg.CatchUp,
		inbox:      make(chan inboundMessage, inboxMessagesMax),
		statusReq:  make(chan chan string),
		txsArrived: cfg.TxsArrived,
		synced:     make(chan deliveredBlock, deliveredBlocksMax),
		stopped:    make(chan struct{}),
		walLog:     records,
		votes:      newVoteSigs(vals, cfg.Genesis.ChainID, cfg.Self),
	}
	params := cfg.Genesis.Consensus
	d.replica, err = pbft.NewReplica(pbft.Config{
		ChainID:    cfg.Genesis.ChainID,
		ID:         cfg.Self,
		Validators: vals,
		Params:     params,
		App: pbft.ChainApplication{Chain: chain, Candidates: func(parent ledger.StateReader) []*ledger.Tx {
			return d.pool.ReapAfter(int(params.BlockTxsMax), int(params.BlockBytesMax), nextNonce(parent))
		}, IdleFunc: func() bool { return !d.pool.Executable() }},
		EmptyBlockTicks: uint64(cfg.EmptyBlockInterval / cfg.Tick),
		Signer:          pbft.Ed25519Signer{Key: cfg.Key, ChainID: cfg.Genesis.ChainID},
		Verifier:        certVerifier{pbft.Ed25519Verifier{Validators: vals, ChainID: cfg.Genesis.ChainID}, cfg.VerifiedCerts, d.votes},
		Head:            head,
		Checkpoint:      checkpoint,
		Genesis:         genesisBlock.Hash(),
		Records:         records,
		TickInterval:    cfg.Tick,
	})
	if err != nil {
		return nil, fmt.Errorf("start consensus: %w", err)
	}
	view, _ := d.replica.View()
	d.currentView.Store(view)
	if cfg.Byzantine != ByzantineNone {
		if !validByzantineMode(cfg.Byzantine) {
			return nil, fmt.Errorf("unknown byzantine mode %q (want one of %v)", cfg.Byzantine, ByzantineModes)
		}
		d.byz = &byzantine{mode: cfg.Byzantine, self: cfg.Self, n: vals.Len(),
			signer: pbft.Ed25519Signer{Key: cfg.Key, ChainID: cfg.Genesis.ChainID}}
		d.byz.rebuild = func(b *ledger.Block) (*ledger.Block, error) {
			return chain.Build(b.Header.ParentHash, b.Header.View, b.Header.Proposer, b.Header.Timestamp+d.byz.rebuilt, nil)
		}
		d.log.Warn("BYZANTINE TEST MODE: this validator misbehaves on purpose", "mode", cfg.Byzantine)
	}
	if cfg.OMVerify {
		if err := d.enableOM(cfg, vals); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// consensusState returns the replica's one-line state from the loop, or
// "" if the loop does not answer in time (it is busy or stopped).
func (d *driver) consensusState(ctx context.Context) string {
	reply := make(chan string, 1)
	select {
	case d.statusReq <- reply:
	case <-ctx.Done():
		return ""
	}
	select {
	case s := <-reply:
		return s
	case <-ctx.Done():
		return ""
	}
}

// deliver queues a message without blocking; a full inbox drops it (the
// engine recovers lost messages through view changes and catch-up). An
// in-process network, whose senders are other loops, delivers this way;
// the host uses deliverWait.
func (d *driver) deliver(from string, raw []byte) {
	if isOMEnvelope(raw) { // the PBFT decoder never sees OM bytes
		d.deliverOM(from, raw)
		return
	}
	select {
	case d.inbox <- inboundMessage{from: from, raw: raw}:
	default:
		d.metrics.consensusDropped.Inc()
	}
}

// deliverWait queues a message from the network (PBFT, or OM when this
// node verifies), waiting until the loop has room for it, or drops it
// once the loop has stopped. The host calls
// it from its one dispatcher, which takes the peers' queued messages in
// turn: waiting here keeps a flood in the flooder's own queue, where the
// host drops its oldest, whereas dropping here (deliver) would drop
// whichever message came next, mostly other validators' while the flood
// keeps the inbox full.
func (d *driver) deliverWait(from string, raw []byte) {
	inbox, dropped := d.inbox, d.metrics.consensusDropped
	if isOMEnvelope(raw) {
		if d.omInbox == nil {
			d.deliverOM(from, raw) // a peer verifies, this node does not
			return
		}
		inbox, dropped = d.omInbox, d.metrics.omDropped
	}
	select {
	case inbox <- inboundMessage{from: from, raw: raw}:
	case <-d.stopped:
		dropped.Inc()
	}
}

// errLoopStopped: the consensus loop has stopped and takes nothing more.
var errLoopStopped = errors.New("consensus loop stopped")

// deliverSynced queues a block fetched by block sync; it blocks until the
// loop takes it or ctx ends, so sync goes at the pace of the loop. Once
// the loop has stopped it refuses the block (errLoopStopped): a sync run
// outlives the loop, and would otherwise fill the queue and wait there
// until its own timeout.
func (d *driver) deliverSynced(ctx context.Context, b *ledger.Block, cert *ledger.CommitCertificate) error {
	select {
	case <-d.stopped:
		return errLoopStopped
	default:
	}
	select {
	case d.synced <- deliveredBlock{block: b, cert: cert}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.stopped:
		return errLoopStopped
	}
}

// run is the consensus loop. It returns when ctx ends, or with the first
// error that makes continuing unsafe (a failed fsync, a block the store
// refuses, a failed read of its own state while validating): a validator
// that cannot persist its promises, or check what it votes for, must stop.
func (d *driver) run(ctx context.Context) (err error) {
	defer close(d.stopped)
	ticker := time.NewTicker(d.tick)
	defer ticker.Stop()
	// Whatever ends the loop, a background store write ends first and the
	// blocks written without an fsync are synced: the store is closed
	// after the loop returns.
	defer func() {
		if e := d.awaitStore(); err == nil {
			err = e
		}
		if d.unsynced {
			if e := d.syncStore(); err == nil {
				err = e
			}
		}
	}()
	for {
		if err := d.handleReady(); err != nil {
			return err
		}
		// Blocks written without an fsync become durable with the next
		// step's records; with nothing waiting to be stepped, sync now.
		if d.unsynced && len(d.inbox) == 0 {
			if err := d.syncStore(); err != nil {
				return fmt.Errorf("sync store: %w", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case m := <-d.inbox:
			// Step whatever else has arrived before handling the output:
			// one Ready, and one fsync, then covers all of it, and one
			// signature batch covers its votes.
			batch := append(make([]inboundMessage, 0, inboxStepBatchMax), m)
			for len(batch) < inboxStepBatchMax {
				select {
				case m := <-d.inbox:
					batch = append(batch, m)
					continue
				default:
				}
				break
			}
			d.stepAll(batch)
		case <-ticker.C:
			d.replica.Tick(d.now().UnixMilli())
			if d.om != nil {
				d.om.tick()
			}
		case m := <-d.omInbox: // nil, never ready, unless om_verify
			d.om.receive(m.from, m.raw)
		case <-d.txsArrived:
			d.proposeNow()
		case reply := <-d.statusReq:
			reply <- d.replica.Status()
		case s := <-d.synced:
			if err := d.takeSynced(s); err != nil {
				return err
			}
		case err := <-d.storeDone(): // nil, never ready, unless storing
			if err := d.finishStore(err); err != nil {
				return err
			}
		}
	}
}

// stepAll decodes the messages, verifies their votes' signatures in one
// batch (voteSigs), and steps them in order.
func (d *driver) stepAll(batch []inboundMessage) {
	msgs := make([]*pbft.Message, len(batch))
	decoded := make([]*pbft.Message, 0, len(batch))
	for i, m := range batch {
		msg, err := pbft.Decode(m.raw)
		if err != nil {
			d.metrics.consensusInvalid.Inc()
			d.penalize(m.from, err)
			continue
		}
		d.metrics.consensusReceived.WithLabelValues(msg.Kind.String()).Inc()
		msgs[i] = msg
		decoded = append(decoded, msg)
	}
	d.votes.verify(decoded)
	defer d.votes.clear()
	for i, msg := range msgs {
		if msg != nil {
			d.stepDecoded(batch[i].from, msg)
		}
	}
}

func (d *driver) stepDecoded(from string, msg *pbft.Message) {
	if err := d.replica.Step(msg); err != nil {
		if errors.Is(err, pbft.ErrBadSignature) || errors.Is(err, pbft.ErrUnknownSender) || errors.Is(err, pbft.ErrMalformed) {
			d.metrics.consensusInvalid.Inc()
			d.penalize(from, err)
			return
		}
		d.log.Debug("consensus message refused", "peer", from, "kind", msg.Kind, "from", msg.From, "err", err)
	}
}

// handleReady drains the replica's output in the order its doc demands.
func (d *driver) handleReady() error {
	for d.replica.HasReady() {
		rd := d.replica.Ready()
		if rd.Fault != nil {
			// This node's state failed, not a peer: the replica halted
			// without voting or blaming anyone, and the node stops.
			return fmt.Errorf("consensus halted on a local fault (this node's state, not a peer's): %w", rd.Fault)
		}
		if err := d.commitReady(rd); err != nil {
			return err
		}
		if err := d.handleEvents(rd.Events); err != nil {
			return err
		}
		d.replica.Advance()
		// A commit may have emptied the pipeline; only after a block that
		// ordered txs, so a chain of empty eager blocks cannot start.
		if n := len(rd.Committed); n > 0 && len(rd.Committed[n-1].Block.Txs) > 0 {
			d.proposeNow()
		}
	}
	return nil
}

// proposeNow lets the replica propose between ticks (if it is the primary
// with nothing in flight) when the mempool holds a tx executable on the
// committed state; otherwise the next tick decides.
func (d *driver) proposeNow() {
	if len(d.pool.ReapAfter(1, int(d.genesis.Consensus.BlockBytesMax), nextNonce(d.store))) == 0 {
		return
	}
	d.replica.ProposeNow(d.now().UnixMilli())
}

// persist makes a Ready's records durable, in the store's log, after the
// store write in progress; the fsync also covers any block written before
// without one.
func (d *driver) persist(records [][]byte) error {
	if len(records) == 0 {
		return nil
	}
	if err := d.awaitStore(); err != nil {
		return err
	}
	if err := d.storeCommit(records, nil, ledger.Synced); err != nil {
		return fmt.Errorf("persist consensus records: %w", err)
	}
	return nil
}

func (d *driver) handleEvents(events []pbft.Event) error {
	for _, ev := range events {
		switch ev := ev.(type) {
		case pbft.EventViewChanged:
			d.metrics.view.Set(float64(ev.View))
			d.currentView.Store(ev.View)
			if !ev.Active {
				d.metrics.viewChanges.Inc()
			}
			d.log.Info("view change", "view", ev.View, "active", ev.Active)
		case pbft.EventCheckpointStable:
			d.log.Debug("checkpoint stable", "height", ev.Height)
			if d.om != nil {
				d.om.checkpointStable(ev.Height)
			}
			if err := d.compactWAL(); err != nil {
				return err
			}
		case pbft.EventEvidence:
			d.metrics.evidence.Inc()
			d.keepEvidence(EvidenceSummary{Validator: ev.Evidence.Validator, Kind: uint8(ev.Evidence.Kind), Reason: ev.Evidence.Reason})
			d.log.Warn("evidence of misbehaviour", "validator", ev.Evidence.Validator, "kind", ev.Evidence.Kind, "reason", ev.Evidence.Reason)
		case pbft.EventCatchUp:
			if d.catchUp != nil {
				d.catchUp(ev.FromHeight, ev.ToHeight, ev.Peers)
			}
		}
	}
	return nil
}

// walCompactRecordsMin: compact only once the log has grown this much, so
// compaction's rewrite is amortised over several appends. Small, because
// the records share the store's memtable: a prepared record carries its
// whole block, and records deleted within a second or two die in the
// memtable with their delete, while records kept longer are flushed and
// then rewritten by Pebble's compactions. At a stable checkpoint the log
// keeps only the few heights still in flight, so each compaction rewrites
// little.
const walCompactRecordsMin = 64

// compactWAL replaces the log with what a restart needs after a stable
// checkpoint, keeping it bounded however long the chain runs.
func (d *driver) compactWAL() error {
	if len(d.walLog) < walCompactRecordsMin {
		return nil
	}
	kept := pbft.CompactRecords(d.walLog)
	out := make([][]byte, len(kept))
	for i := range kept {
		out[i] = pbft.EncodeRecord(&kept[i])
	}
	if err := d.awaitStore(); err != nil {
		return err
	}
	if err := d.store.ReplaceLog(out); err != nil {
		return err
	}
	d.log.Debug("consensus wal compacted", "before", len(d.walLog), "after", len(kept))
	d.walLog = kept
	return nil
}
