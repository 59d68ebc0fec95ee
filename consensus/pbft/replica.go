package pbft

import (
	"errors"
	"fmt"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Errors returned by Step and DeliverCommitted for input that is refused.
var (
	ErrUnknownSender = errors.New("pbft: sender is not a validator")
	ErrOwnMessage    = errors.New("pbft: message claims to be from this replica")
	ErrInvalid       = errors.New("pbft: invalid message")
	// ErrHalted: the replica stopped on a local fault (Ready.Fault) and
	// takes no more input.
	ErrHalted = errors.New("pbft: replica halted on a local fault")
)

// Replica is one PBFT replica as a deterministic state machine. It is not
// safe for concurrent use: one goroutine drives it (see the package doc).
type Replica struct {
	cfg     Config
	id      uint16
	n, f, q int
	window  uint64 // W
	base    uint64 // base view-change timeout in ticks

	view      uint64
	changing  bool   // VIEW-CHANGE for view sent, NEW-VIEW not yet installed
	changes   uint64 // consecutive view changes without progress
	idleTicks uint64 // ticks without progress in the current view
	// proposalTicks counts ticks since this replica last proposed.
	proposalTicks uint64
	vcTicks       uint64 // ticks in the current view change
	vcQuorum      bool   // a quorum asked for this view or later: the timer runs
	now           int64  // latest time given to Tick, Unix milliseconds
	ticks         uint64 // Ticks taken since start
	// newViewResent holds, per peer, the tick this replica last sent it the
	// current view's NEW-VIEW again (resendNewView).
	newViewResent map[uint16]uint64

	committed     uint64
	committedHash crypto.Hash
	stable        CheckpointProof // low watermark = stable.Height
	slots         map[uint64]*slot
	hashes        map[uint64]crypto.Hash        // committed blocks, the last 2W heights
	blocks        map[crypto.Hash]*ledger.Block // known proposals in the window
	nextPropose   uint64                        // primary: next height to pre-prepare

	checkpoints map[uint16][]*Message // per peer, newest last, heights > low
	viewChanges map[uint16]*Message   // per peer, the highest-view VIEW-CHANGE
	ownVC       *Message
	newView     *Message // the NEW-VIEW installed for the current view
	reproposals []*Message
	future      map[uint16][]*Message
	futureBytes map[uint16]int // per peer, blockBytes of its future messages
	sent        map[sentKey]crypto.Hash

	// checkpointTicks counts the ticks this replica's own CHECKPOINTs have
	// stayed above the stable checkpoint (tickCheckpoint).
	checkpointTicks uint64

	// roomWait is the lowest height whose block the application had no
	// room to validate (waitForRoom); 0 when none waits.
	roomWait uint64

	evidence      []*Evidence
	catchUpTarget uint64
	catchUpTicks  uint64

	out      Ready
	returned readyMark
	// fault is the local failure the replica halted on (localFault); nil
	// while it runs. faultTaken: a Ready has carried it to the caller.
	fault      error
	faultTaken bool
}

type sentKey struct {
	view, height uint64
	kind         Kind
}

type readyMark struct{ persist, messages, committed, events int }

// slot is the log entry for one height inside the window.
type slot struct {
	height uint64
	// State of the current view; reset when the view changes.
	pp        *Message // accepted PRE-PREPARE (digest-only is enough)
	block     *ledger.Block
	validated bool
	prepares  map[uint16]*Message
	commits   map[uint16]*Message
	prepared  bool
	committed bool // committed-local in this view (§4.2): ready to execute
	// Kept across views.
	cert      *PreparedCertificate // highest-view prepared certificate held
	certBlock *ledger.Block
}

// NewReplica builds a replica from cfg, restarting from cfg.Records.
func NewReplica(cfg Config) (*Replica, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.FutureMessagesPerPeerMax == 0 {
		cfg.FutureMessagesPerPeerMax = 4 * int(cfg.Params.WindowHeights)
	}
	if cfg.FutureBytesPerPeerMax == 0 {
		cfg.FutureBytesPerPeerMax = int(cfg.Params.WindowHeights) * int(cfg.Params.BlockBytesMax)
	}
	if cfg.EvidenceMax == 0 {
		cfg.EvidenceMax = 64
	}
	r := &Replica{
		cfg: cfg, id: cfg.ID, n: cfg.Validators.Len(), f: cfg.Validators.F(), q: cfg.Validators.Quorum(),
		window: cfg.Params.WindowHeights, base: cfg.baseTimeoutTicks(),
		committed: cfg.Head.Height, committedHash: cfg.Head.Hash(), now: cfg.Head.Timestamp,
		stable:        CheckpointProof{Height: 0, Digest: cfg.Genesis},
		slots:         make(map[uint64]*slot),
		hashes:        make(map[uint64]crypto.Hash),
		blocks:        make(map[crypto.Hash]*ledger.Block),
		checkpoints:   make(map[uint16][]*Message),
		viewChanges:   make(map[uint16]*Message),
		newViewResent: make(map[uint16]uint64),
		future:        make(map[uint16][]*Message),
		futureBytes:   make(map[uint16]int),
		sent:          make(map[sentKey]crypto.Hash),
	}
	if cfg.Head.Height == 0 && cfg.Head.Hash() != cfg.Genesis {
		return nil, fmt.Errorf("%w: head at height 0 is not the genesis block", ErrConfig)
	}
	if err := r.restore(cfg.Records); err != nil {
		return nil, err
	}
	r.nextPropose = r.committed + 1
	// Only memory held this replica's own CHECKPOINTs: after a restart it
	// would have none to send again (tickCheckpoint), and if the others'
	// were lost too, fewer than a quorum might be left to make the full
	// window's checkpoint stable. The highest one committed is signed again.
	cp := cfg.Checkpoint
	if cp == nil && cfg.Head.Height%cfg.Params.CheckpointInterval == 0 {
		cp = &cfg.Head
	}
	if cp != nil && cp.Height > r.stable.Height {
		r.sendCheckpoint(cp)
	}
	return r, nil
}

// ID is this replica's validator index.
func (r *Replica) ID() uint16 { return r.id }

// View is the current view; Active is false while a view change is under way.
func (r *Replica) View() (view uint64, active bool) { return r.view, !r.changing }

// Committed is the height and hash of the last block this replica committed.
func (r *Replica) Committed() (uint64, crypto.Hash) { return r.committed, r.committedHash }

// LowWatermark is the height of the stable checkpoint.
func (r *Replica) LowWatermark() uint64 { return r.stable.Height }

// Evidence returns the evidence kept (at most Config.EvidenceMax).
func (r *Replica) Evidence() []*Evidence { return append([]*Evidence(nil), r.evidence...) }

// LogSizes reports the sizes of the replica's in-memory log structures, for
// tests that check memory stays bounded.
func (r *Replica) LogSizes() (slots, blocks, sent, future int) {
	for _, q := range r.future {
		future += len(q)
	}
	return len(r.slots), len(r.blocks), len(r.sent), future
}

func (r *Replica) primary(view uint64) uint16 { return uint16(r.cfg.Validators.Primary(view)) }
func (r *Replica) isPrimary() bool            { return r.primary(r.view) == r.id }
func (r *Replica) inWindow(h uint64) bool {
	return h > r.stable.Height && h <= r.stable.Height+r.window
}

func (r *Replica) timeoutTicks() uint64 { return r.base << min(r.changes, 16) }

// slot returns the log entry for h, creating it; h must be in the window.
func (r *Replica) slot(h uint64) *slot {
	if !r.inWindow(h) {
		panic(fmt.Sprintf("pbft: slot %d outside window (%d, %d]", h, r.stable.Height, r.stable.Height+r.window))
	}
	s := r.slots[h]
	if s == nil {
		s = &slot{height: h, prepares: make(map[uint16]*Message), commits: make(map[uint16]*Message)}
		r.slots[h] = s
	}
	return s
}

// Step hands the replica one message from a peer. The sender's membership
// and signature are checked before anything else; a refused message
// returns an error and changes nothing. Stale or early messages are not
// errors: they are dropped or buffered (bounded). A halted replica
// (Ready.Fault) refuses every message with ErrHalted.
func (r *Replica) Step(m *Message) error {
	if r.fault != nil {
		return fmt.Errorf("%w: %w", ErrHalted, r.fault)
	}
	if err := r.checkMessage(m); err != nil {
		return err
	}
	switch m.Kind {
	case KindPrePrepare:
		return r.stepPrePrepare(m)
	case KindPrepare:
		return r.stepPrepare(m)
	case KindCommit:
		return r.stepCommit(m)
	case KindCheckpoint:
		return r.stepCheckpoint(m)
	case KindViewChange:
		return r.stepViewChange(m)
	case KindNewView:
		return r.stepNewView(m)
	}
	panic(fmt.Sprintf("pbft: checkMessage let kind %d through", m.Kind))
}

func (r *Replica) checkMessage(m *Message) error {
	if m == nil {
		return fmt.Errorf("%w: nil message", ErrInvalid)
	}
	if !r.cfg.Validators.Contains(int(m.From)) {
		return fmt.Errorf("%w: %d", ErrUnknownSender, m.From)
	}
	if m.From == r.id && m.Kind != KindPrePrepare {
		return ErrOwnMessage // a PRE-PREPARE may come back relayed, for its block
	}
	switch m.Kind {
	case KindPrePrepare:
		// A block over the chain's limit can never be valid; refused here,
		// before its signature is checked, it is never kept or buffered
		// (the decoder admits any block up to ledger.BlockBytesMax).
		if size := blockBytes(m); size > int(r.cfg.Params.BlockBytesMax) {
			return fmt.Errorf("%w: %s carries a block of %d bytes, the chain allows %d", ErrInvalid, m, size, r.cfg.Params.BlockBytesMax)
		}
	case KindPrepare, KindCommit, KindCheckpoint:
	case KindViewChange:
		if m.ViewChange == nil {
			return fmt.Errorf("%w: VIEW-CHANGE without body", ErrInvalid)
		}
	case KindNewView:
		if m.NewView == nil {
			return fmt.Errorf("%w: NEW-VIEW without body", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrInvalid, m.Kind)
	}
	return r.verify(m)
}

func (r *Replica) verify(m *Message) error {
	if err := r.cfg.Verifier.Verify(m.From, m.SigningBytes(), m.Signature); err != nil {
		return fmt.Errorf("%s: %w", m, err)
	}
	return nil
}

// Tick advances logical time by one tick; now is the node's clock in Unix
// milliseconds, used only as the timestamp of blocks this replica proposes.
func (r *Replica) Tick(now int64) {
	if r.fault != nil {
		return
	}
	r.now = max(r.now, now)
	r.ticks++
	r.tickCatchUp()
	r.tickCheckpoint()
	if r.changing {
		r.tickViewChange()
		return
	}
	r.retryRoom()
	r.idleTicks++
	r.proposalTicks++
	if r.idleTicks >= r.timeoutTicks() {
		r.startViewChange(r.view + 1)
		return
	}
	r.tryPropose()
}

// HasReady reports whether Ready has anything new.
func (r *Replica) HasReady() bool {
	return (r.fault != nil && !r.faultTaken) || len(r.out.Persist) > r.returned.persist || len(r.out.Messages) > r.returned.messages ||
		len(r.out.Committed) > r.returned.committed || len(r.out.Events) > r.returned.events
}

// Ready returns the output accumulated since the last Advance. The caller
// must handle it (see Ready) and then call Advance.
func (r *Replica) Ready() Ready {
	r.returned = readyMark{len(r.out.Persist), len(r.out.Messages), len(r.out.Committed), len(r.out.Events)}
	r.faultTaken = r.fault != nil
	return Ready{
		Fault:     r.fault,
		Persist:   r.out.Persist[:r.returned.persist:r.returned.persist],
		Messages:  r.out.Messages[:r.returned.messages:r.returned.messages],
		Committed: r.out.Committed[:r.returned.committed:r.returned.committed],
		Events:    r.out.Events[:r.returned.events:r.returned.events],
	}
}

// Advance tells the replica the last Ready was handled.
func (r *Replica) Advance() {
	m := r.returned
	r.out.Persist = append([]Record(nil), r.out.Persist[m.persist:]...)
	r.out.Messages = append([]Outbound(nil), r.out.Messages[m.messages:]...)
	r.out.Committed = append([]CommittedBlock(nil), r.out.Committed[m.committed:]...)
	r.out.Events = append([]Event(nil), r.out.Events[m.events:]...)
	r.returned = readyMark{}
}

func (r *Replica) persist(rec Record) { r.out.Persist = append(r.out.Persist, rec) }
func (r *Replica) event(e Event)      { r.out.Events = append(r.out.Events, e) }

func (r *Replica) send(to uint16, m *Message) {
	r.out.Messages = append(r.out.Messages, Outbound{To: int(to), Msg: m})
}

func (r *Replica) broadcast(m *Message) {
	r.out.Messages = append(r.out.Messages, Outbound{To: Broadcast, Msg: m})
}

// sign fills in From and Signature.
func (r *Replica) sign(m *Message) *Message {
	m.From = r.id
	m.Signature = r.cfg.Signer.Sign(m.SigningBytes())
	return m
}

// signVote signs a PRE-PREPARE, PREPARE or COMMIT after recording the
// promise: a replica never signs two different digests for one (view,
// height, kind), not even across a crash, because the record is persisted
// before the vote is sent (it is in the same Ready, ahead of it).
func (r *Replica) signVote(m *Message) *Message {
	key := sentKey{m.View, m.Height, m.Kind}
	if d, ok := r.sent[key]; ok && d != m.Digest {
		panic(fmt.Sprintf("pbft: replica %d about to sign %s after signing digest %s", r.id, m, d.Short()))
	}
	r.sign(m)
	if _, ok := r.sent[key]; !ok {
		r.sent[key] = m.Digest
		r.persist(Record{Kind: RecordSent, Sent: m.withoutBlock()})
	}
	return m
}

// canSign reports whether signing digest for key keeps every promise.
func (r *Replica) canSign(view, height uint64, kind Kind, digest crypto.Hash) bool {
	d, ok := r.sent[sentKey{view, height, kind}]
	return !ok || d == digest
}

// localFault halts the replica on a failure of this node's own state met
// while checking or building a block (ledger.ErrLocalState). It says
// nothing about the block or its proposer: it is no evidence, no reason
// to change view, and no check passed, so no vote. The node cannot go on
// without its state, so it learns of the fault in Ready.Fault and stops
// (fail-stop); every Ready from here on carries the first fault.
func (r *Replica) localFault(err error) {
	if r.fault == nil {
		r.fault = err
	}
}

// progress records that the protocol moved forward: timers restart and the
// timeout stops doubling (§4.5.2).
func (r *Replica) progress() {
	r.idleTicks = 0
	r.changes = 0
}

// Status describes the replica's position, for logs and failure reports.
func (r *Replica) Status() string {
	vcs := make(map[uint64]int)
	for _, m := range r.viewChanges {
		vcs[m.View]++
	}
	next := "none"
	h := min(r.committed+1, r.stable.Height+1)
	if s := r.slots[h]; s != nil {
		next = fmt.Sprintf("h=%d pp=%v block=%v validated=%v prepares=%d commits=%d prepared=%v cert=%v",
			h, s.pp != nil, s.block != nil, s.validated, len(s.prepares), len(s.commits), s.prepared, s.cert != nil)
	}
	return fmt.Sprintf("replica %d: view %d changing=%v changes=%d committed=%d low=%d next=%d slots=%d vcs=%v nv=%v [%s]",
		r.id, r.view, r.changing, r.changes, r.committed, r.stable.Height, r.nextPropose, len(r.slots), vcs, r.newView != nil, next)
}
