package node

// OM(m) checkpoint verification (om_verify, --om-verify; DESIGN.md §5).
//
// At every stable checkpoint the validators run interactive consistency
// (consensus/om) with m = f on the value (height, state root): every
// validator commands one OM(m) instance with its own claim, and every loyal
// validator ends with the same vector of claims. Each node compares that
// vector with its own state: all equal is "verified"; a claim that differs
// is an alarm naming the validator, with the message it signed as evidence.
// Two different values one validator signed to this node for the same
// path of a checkpoint's run (two round-1 claims, or two relays of one
// path) are kept as evidence of equivocation, whatever the vector.
//
// Transport. OM messages travel on the consensus streams in an envelope
//
//	kind u8 = omEnvelopeKind | om.Message encoding | ed25519 signature (64 bytes)
//
// signed by the sender's validator key under crypto.DomainOM over the
// message encoding. A PBFT message starts with pbft.MessageVersion, never
// omEnvelopeKind, so driver.deliver tells them apart by the first byte:
// the PBFT decoder never sees OM bytes and the OM decoder never sees PBFT
// bytes. Signatures are checked before a message reaches the state machine
// (the paper's assumption A2: the receiver knows who sent a message).
//
// Rounds. The om state machine is pure; the consensus loop feeds it. One
// OM round lasts RoundTicks node ticks, derived from config: a quarter of
// the genesis view-change timeout (the message delay the chain already
// assumes), counted in local ticks (omRoundTicks). A run takes m+1 rounds.
// Messages that arrive before their round (or before this node reached the
// checkpoint) wait in bounded buffers; messages after their round count as
// the default value, as the paper prescribes.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/synod-chain/synod/consensus/om"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
)

// Limits of OM verification.
const (
	// omEnvelopeKind is the first byte of an OM envelope on the consensus
	// streams; PBFT messages start with pbft.MessageVersion instead.
	omEnvelopeKind byte = 0xA7
	// omEnvelopeBytesMax bounds one envelope.
	omEnvelopeBytesMax = 1 + om.MessageBytesMax + crypto.SignatureBytes
	// omRunsMax bounds the checkpoints verified at once; a newer stable
	// checkpoint drops the oldest run.
	omRunsMax = 4
	// omFutureHeightsMax bounds the checkpoints this node has not reached
	// yet for which it keeps messages from faster peers.
	omFutureHeightsMax = 4
	// omReportsKeptMax bounds the report history served by synod_omReport.
	omReportsKeptMax = 64
	// omInboxMessagesMax bounds OM messages queued for the consensus loop;
	// more wait in the host's per-peer queues (deliverWait), where one
	// validator's flood does not delay the others'.
	omInboxMessagesMax = 256
	// omRoundTicksMin and omRoundTicksMax clamp the derived round length.
	omRoundTicksMin = 2
	omRoundTicksMax = 1000
	// omStartWaitRoundsMax: a run whose block is not applied here within
	// this many rounds of the checkpoint becoming stable is dropped.
	omStartWaitRoundsMax = 16
	// omClaimBytes is the encoded claim: height u64 | state root.
	omClaimBytes = 8 + crypto.HashBytes
)

// Verdicts of an OM report.
const (
	OMPending    = "pending"    // the run has not decided yet
	OMVerified   = "verified"   // every validator claims this node's state
	OMAlarm      = "alarm"      // at least one validator claims another state
	OMIncomplete = "incomplete" // no claim differs, but some validators claimed nothing in time
	OMDropped    = "dropped"    // the run was abandoned (too many in flight, block never applied)
)

// Claim statuses in an OM report.
const (
	OMClaimMatch     = "match"
	OMClaimDiffers   = "differs"
	OMClaimSilent    = "silent"    // the agreed value is the default: no claim
	OMClaimMalformed = "malformed" // the agreed value is not a (height, root) pair
)

// Errors of OM verification.
var (
	ErrOMEnvelope  = errors.New("om verify: malformed envelope")
	ErrOMSignature = errors.New("om verify: bad envelope signature")
	ErrOMVerifyOff = errors.New("om verification is off (om_verify = false)")
)

// OMReport is the result of synod_omReport for one checkpoint.
type OMReport struct {
	Height uint64 `json:"height"`
	// StateRoot is this node's own state root at Height, as it claimed it.
	StateRoot crypto.Hash `json:"stateRoot"`
	Verdict   string      `json:"verdict"`
	// Claims is the agreed vector: what every validator claims.
	Claims []OMClaim `json:"claims"`
	// Differing names the validators whose claim is not this node's state.
	Differing []int        `json:"differing,omitempty"`
	Evidence  []OMEvidence `json:"evidence,omitempty"`
	// MessagesSent and MessagesReceived are this node's OM messages for the
	// checkpoint; MessagesExpected is the whole network's when everybody
	// takes part: n × ((n-1) + (n-1)(n-2) + …).
	MessagesSent     int `json:"messagesSent"`
	MessagesReceived int `json:"messagesReceived"`
	MessagesExpected int `json:"messagesExpected"`
	Rounds           int `json:"rounds"`
}

// OMClaim is one entry of the agreed vector.
type OMClaim struct {
	Validator int         `json:"validator"`
	Name      string      `json:"name"`
	Status    string      `json:"status"`
	Height    uint64      `json:"height"`
	StateRoot crypto.Hash `json:"stateRoot"`
}

// OMEvidence is what a validator signed against itself, as envelopes
// (hex) anyone can check against its public key under crypto.DomainOM.
//
// Envelope, for a differing validator, is its round-1 envelope to this
// node. Empty when it sent this node no claim that differs from this
// node's state (it sent nothing, or told this node the truth and the
// others a lie: the agreed value then came from the relays).
//
// Equivocation, whatever the verdict, is a pair of envelopes the validator
// signed to this node for the checkpoint with the same path and two
// different values: two round-1 claims, or two relays of one path (round
// 2 on). The first is the one the run used, the second the first that
// differs from it. A loyal validator signs one message per path and
// receiver in a run (a restarted node does not rejoin a run it started:
// the stable checkpoint that starts one is persisted before it starts), so
// the pair alone proves the validator Byzantine.
//
// A relay is its relayer's own statement ("the value relayed to me along
// this path is V"); it carries no signature of the validators before it
// on the path. Relays that disagree with a commander's claim, or with one
// another, therefore prove nothing about the commander or the relayers:
// either side may be the liar. Only the relayer's own two conflicting
// relays of one path name it.
type OMEvidence struct {
	Validator    int      `json:"validator"`
	Envelope     string   `json:"envelope,omitempty"`
	Equivocation []string `json:"equivocation,omitempty"`
}

// omConfig wires an omVerifier to its node.
type omConfig struct {
	ChainID    string
	Validators *ledger.ValidatorSet
	Self       uint16
	Key        crypto.PrivateKey
	RoundTicks int
	// CheckpointInterval is the genesis's K: runs are at its multiples.
	CheckpointInterval uint64
	// StartHeight is the committed head when verification starts (after a
	// restart, no checkpoint has become stable here yet): early messages
	// are kept for the checkpoints just above it or the last stable one.
	StartHeight uint64
	// CorruptState is the test hook: claim a wrong state root.
	CorruptState bool
	// StateAt is the committed state root at a height, false if the block
	// is not applied here yet.
	StateAt  func(height uint64) (crypto.Hash, bool)
	Send     func(to int, raw []byte)
	Penalize func(peer string, reason error)
	Metrics  *Metrics
	Logger   *slog.Logger
}

// omVerifier runs OM verification for one node. Everything but the report
// history is owned by the consensus loop's goroutine.
type omVerifier struct {
	cfg       omConfig
	n, faults int
	self      om.NodeID
	perSender int // most messages one sender sends this node in one run
	expected  int // messages of one run across the network
	runs      []*omRun
	future    map[uint64]*omBuffer
	stable    uint64 // the last stable checkpoint seen
	reports   omReports
}

// omRun is the verification of one checkpoint.
type omRun struct {
	height uint64
	root   crypto.Hash // this node's claimed state root
	claim  []byte
	ic     *om.Interactive // nil until the checkpoint's block is applied here
	wait   int             // ticks left: to start (ic nil) or to the next round
	early  *omBuffer
	// signed, by ic.PathSlot: for each path, the envelope of the message
	// the run used for it (for a path of one id, the sender's round-1
	// claim). Each path is used once, so it holds at most the run's
	// messages to this node (about 9,000 envelopes at n = 12); allocated
	// with ic.
	signed [][]byte
	// equivocation, by validator: two envelopes it signed to this node for
	// one path with different values, the one in signed first; only the
	// first pair per validator, so a run holds at most n pairs whatever a
	// traitor floods.
	equivocation [][2][]byte
	sent         int
	recvd        int
}

// direct is validator i's round-1 envelope to this node, nil if the run
// used none.
func (run *omRun) direct(i int) []byte {
	if run.ic == nil {
		return nil
	}
	slot, ok := run.ic.PathSlot([]om.NodeID{om.NodeID(i)})
	if !ok {
		return nil // i is this node
	}
	return run.signed[slot]
}

// omSigned is a verified message with the envelope that carried it.
type omSigned struct {
	msg om.Message
	raw []byte
}

// omBuffer holds messages that came too early, at most perSender from each
// validator, so one traitor can fill only its own share.
type omBuffer struct {
	msgs   []omSigned
	counts []int
}

func newOMBuffer(n int) *omBuffer { return &omBuffer{counts: make([]int, n)} }

func (b *omBuffer) add(s omSigned, perSender int) bool {
	if b.counts[s.msg.From] >= perSender {
		return false
	}
	b.counts[s.msg.From]++
	b.msgs = append(b.msgs, s)
	return true
}

func (b *omBuffer) take() []omSigned {
	msgs := b.msgs
	b.msgs = nil
	clear(b.counts)
	return msgs
}

// omRoundTicks derives the length of one OM round in local ticks from the
// genesis view-change timeout: a quarter of it, clamped.
func omRoundTicks(viewChangeTimeoutMs uint64, tick time.Duration) int {
	ticks := time.Duration(viewChangeTimeoutMs) * time.Millisecond / 4 / tick
	return int(min(max(ticks, omRoundTicksMin), omRoundTicksMax))
}

func newOMVerifier(cfg omConfig) (*omVerifier, error) {
	n, faults := cfg.Validators.Len(), cfg.Validators.F()
	if int(cfg.Self) >= n {
		return nil, fmt.Errorf("om verify: validator %d of %d", cfg.Self, n)
	}
	// Checks n and m against the om package's limits once, at start-up.
	if err := omVerifySupported(n, faults, om.NodeID(cfg.Self)); err != nil {
		return nil, err
	}
	if cfg.RoundTicks < 1 {
		return nil, fmt.Errorf("om verify: round of %d ticks", cfg.RoundTicks)
	}
	if cfg.CheckpointInterval < 1 {
		return nil, fmt.Errorf("om verify: checkpoint interval %d", cfg.CheckpointInterval)
	}
	perInstance := om.MessagesPerInstance(n, faults)
	v := &omVerifier{cfg: cfg, n: n, faults: faults, self: om.NodeID(cfg.Self),
		perSender: 1, expected: n * perInstance, future: make(map[uint64]*omBuffer)}
	if n > 1 {
		// By symmetry each ordered pair carries perInstance/(n-1) messages.
		v.perSender = (perInstance + n - 2) / (n - 1)
	}
	return v, nil
}

// omMessagesPerRunMax bounds the messages each validator signs in one run
// (one per checkpoint), all on the consensus loop: by symmetry one
// instance's worth, om.MessagesPerInstance(n, f), and as many to verify.
// It admits n <= 12 (9,031 with f = 3); from n = 13 on, f = 4 and the
// count leaps to 108,384 (266,644 at n = 15), seconds of signing per
// checkpoint that would stall the loop and, with it, consensus.
const omMessagesPerRunMax = 20_000

// omVerifySupported reports whether interactive consistency among n
// validators with m = faults can run in the node: the om package's tree
// must hold it (om.TreeNodesMax) and each run must stay within
// omMessagesPerRunMax.
func omVerifySupported(n, faults int, self om.NodeID) error {
	if _, err := om.NewInteractive(om.InteractiveConfig{Nodes: n, Faults: faults, Self: self}, nil); err != nil {
		return fmt.Errorf("om verify with %d validators: %w", n, err)
	}
	if k := om.MessagesPerInstance(n, faults); k > omMessagesPerRunMax {
		return fmt.Errorf("om verify with %d validators (m = %d): each would sign %d messages a checkpoint and check as many, at most %d: the mode runs with 12 validators or fewer",
			n, faults, k, omMessagesPerRunMax)
	}
	return nil
}

// enableOM turns on OM verification in a driver being built (om_verify).
func (d *driver) enableOM(cfg driverConfig, vals *ledger.ValidatorSet) error {
	v, err := newOMVerifier(omConfig{
		ChainID: cfg.Genesis.ChainID, Validators: vals, Self: cfg.Self, Key: cfg.Key,
		RoundTicks:         omRoundTicks(cfg.Genesis.Consensus.ViewChangeTimeoutMs, cfg.Tick),
		CheckpointInterval: cfg.Genesis.Consensus.CheckpointInterval,
		StartHeight:        d.store.Head().Height,
		CorruptState:       cfg.OMCorruptState,
		StateAt: func(h uint64) (crypto.Hash, bool) {
			if d.store.Head().Height < h {
				return crypto.Hash{}, false
			}
			b, err := d.store.BlockByHeight(h)
			if err != nil {
				return crypto.Hash{}, false
			}
			return b.Header.StateRoot, true
		},
		Send:     d.net.SendConsensus,
		Penalize: d.penalize,
		Metrics:  d.metrics,
		Logger:   d.log,
	})
	if err != nil {
		return err
	}
	d.om = v
	d.omInbox = make(chan inboundMessage, omInboxMessagesMax)
	if cfg.OMCorruptState {
		d.log.Warn("OM TEST MODE: this validator claims a wrong state root at every checkpoint")
	}
	return nil
}

// omBackend is the RPC backend of a node with om_verify: it also serves
// synod_omReport. Without om_verify the node serves plain backend and the
// method does not exist (-32601).
type omBackend struct{ backend }

var _ rpc.OMReporter = omBackend{}

// OMReport serves synod_omReport: the OM(m) verification report of a
// stable checkpoint, nil (null) for one without a report.
func (b omBackend) OMReport(at rpc.BlockTag) (any, error) {
	if b.n.driver.om == nil {
		return nil, ErrOMVerifyOff
	}
	if rep := b.n.driver.om.reports.get(at); rep != nil {
		return rep, nil
	}
	return nil, nil
}

// isOMEnvelope is the demux of the consensus streams.
func isOMEnvelope(raw []byte) bool { return len(raw) > 0 && raw[0] == omEnvelopeKind }

// deliverOM queues an OM envelope for the loop without blocking.
func (d *driver) deliverOM(from string, raw []byte) {
	if d.omInbox == nil {
		d.metrics.omDropped.Inc() // a peer verifies, this node does not
		return
	}
	select {
	case d.omInbox <- inboundMessage{from: from, raw: raw}:
	default:
		d.metrics.omDropped.Inc()
	}
}

// seal encodes and signs a message into an envelope.
func (v *omVerifier) seal(m om.Message) []byte {
	buf := make([]byte, 0, 1+m.EncodedSize()+crypto.SignatureBytes)
	buf = append(buf, omEnvelopeKind)
	buf = m.AppendEncode(buf)
	sig := v.cfg.Key.Sign(crypto.DomainOM, v.cfg.ChainID, buf[1:])
	return append(buf, sig[:]...)
}

// open checks an envelope: shape, addressee and the signature of the
// message's sender. Only what passes reaches the state machine.
func (v *omVerifier) open(raw []byte) (om.Message, error) {
	if len(raw) <= 1+crypto.SignatureBytes || len(raw) > omEnvelopeBytesMax || raw[0] != omEnvelopeKind {
		return om.Message{}, fmt.Errorf("%w: %d bytes", ErrOMEnvelope, len(raw))
	}
	body := raw[1 : len(raw)-crypto.SignatureBytes]
	m, err := om.Decode(body)
	if err != nil {
		return om.Message{}, fmt.Errorf("%w: %w", ErrOMEnvelope, err)
	}
	if int(m.From) >= v.n || m.To != v.self {
		return om.Message{}, fmt.Errorf("%w: from %d to %d, this is %d of %d", ErrOMEnvelope, m.From, m.To, v.self, v.n)
	}
	var sig crypto.Signature
	copy(sig[:], raw[len(raw)-crypto.SignatureBytes:])
	if err := crypto.Verify(v.cfg.Validators.At(int(m.From)).PublicKey, crypto.DomainOM, v.cfg.ChainID, body, sig); err != nil {
		return om.Message{}, fmt.Errorf("%w: from validator %d: %w", ErrOMSignature, m.From, err)
	}
	return m, nil
}

// receive handles one envelope from the network.
func (v *omVerifier) receive(peer string, raw []byte) {
	m, err := v.open(raw)
	if err != nil {
		v.cfg.Metrics.omInvalid.Inc()
		if v.cfg.Penalize != nil {
			v.cfg.Penalize(peer, err)
		}
		v.cfg.Logger.Debug("om message refused", "peer", peer, "err", err)
		return
	}
	s := omSigned{msg: m, raw: raw}
	if run := v.run(m.Instance); run != nil {
		v.step(run, s)
		return
	}
	if m.Instance <= v.stable {
		return // a finished or dropped run: late
	}
	// Only the next omFutureHeightsMax checkpoints may wait here: an entry
	// leaves the table when a stable checkpoint reaches it, so a height no
	// checkpoint will reach (a traitor's) would hold its place for ever.
	k := v.cfg.CheckpointInterval
	// After a restart no checkpoint is stable here yet: count from the
	// head the verifier started at too, or a faster peer's messages for
	// the first checkpoint above it would all be dropped.
	// The window is the omFutureHeightsMax checkpoints above that base,
	// exactly as many as the table holds: heights at or below it are runs
	// the peers have finished or are finishing, too late to join, and
	// their messages (a peer's older run, or a traitor's pick) must not
	// take the places of the next checkpoints'.
	base := max(v.stable, v.cfg.StartHeight-v.cfg.StartHeight%k)
	if m.Instance%k != 0 || m.Instance <= base || m.Instance > base+omFutureHeightsMax*k {
		v.cfg.Metrics.omDropped.Inc()
		return
	}
	buf := v.future[m.Instance]
	if buf == nil {
		if len(v.future) >= omFutureHeightsMax {
			v.cfg.Metrics.omDropped.Inc()
			return
		}
		buf = newOMBuffer(v.n)
		v.future[m.Instance] = buf
	}
	if !buf.add(s, v.perSender) {
		v.cfg.Metrics.omDropped.Inc()
	}
}

func (v *omVerifier) run(height uint64) *omRun {
	for _, r := range v.runs {
		if r.height == height {
			return r
		}
	}
	return nil
}

// step feeds one verified message to a run, keeping it if it is early.
func (v *omVerifier) step(run *omRun, s omSigned) {
	if run.ic == nil {
		if !run.early.add(s, v.perSender) {
			v.cfg.Metrics.omDropped.Inc()
		}
		return
	}
	err := run.ic.Step(s.msg)
	switch {
	case err == nil:
		run.recvd++
		v.cfg.Metrics.omReceived.Inc()
		// Step took it, so its path is well formed and has a slot.
		if slot, ok := run.ic.PathSlot(s.msg.Path); ok {
			run.signed[slot] = s.raw
		}
	case errors.Is(err, om.ErrRoundEarly):
		if !run.early.add(s, v.perSender) {
			v.cfg.Metrics.omDropped.Inc()
		}
	default:
		// Late, duplicate or inconsistent with the run: the sender signed
		// it, so it is the sender's problem; the run counts the default.
		v.cfg.Logger.Debug("om message not used", "height", run.height, "from", s.msg.From, "path", s.msg.Path, "err", err)
		v.keepEquivocation(run, s)
	}
}

// keepEquivocation keeps s as evidence if its sender signed this node
// another value for the same path before, in the envelope the run used
// (the state machine refuses s as a duplicate, or as late): a round-1
// claim or a relay, the sender is the last id of the path either way. The
// same value sent again proves nothing and is not kept, nor is anything
// after the sender's first pair.
func (v *omVerifier) keepEquivocation(run *omRun, s omSigned) {
	from := s.msg.From
	if run.ic == nil || run.equivocation[from][0] != nil {
		return
	}
	slot, ok := run.ic.PathSlot(s.msg.Path)
	if !ok || run.signed[slot] == nil {
		return
	}
	first, ok := omEnvelopeMessage(run.signed[slot])
	if !ok || !sameStatement(first, s.msg) || bytes.Equal(first.Value, s.msg.Value) {
		return
	}
	run.equivocation[from] = [2][]byte{run.signed[slot], s.raw}
	v.cfg.Logger.Error("OM EQUIVOCATION: a validator signed this node two different values for one path of a checkpoint's run",
		"height", run.height, "validator", from, "name", v.cfg.Validators.At(int(from)).Name, "path", s.msg.Path,
		"first", hex.EncodeToString(run.signed[slot]), "second", hex.EncodeToString(s.raw))
}

// sameStatement reports whether a and b are the same statement but for
// the value: one signer, one receiver, one run, one path. Only then do two
// signed values contradict each other; a message whose sender is not its
// path's last id (refused by the state machine) shares a slot with the
// relayer's message but not its signer.
func sameStatement(a, b om.Message) bool {
	return a.Instance == b.Instance && a.From == b.From && a.To == b.To && slices.Equal(a.Path, b.Path)
}

// checkpointStable starts verifying a checkpoint; called from the loop on
// pbft.EventCheckpointStable, after the Ready's commits were applied.
func (v *omVerifier) checkpointStable(height uint64) {
	if height <= v.stable {
		return
	}
	v.stable = height
	run := &omRun{height: height, equivocation: make([][2][]byte, v.n),
		early: newOMBuffer(v.n), wait: omStartWaitRoundsMax * v.cfg.RoundTicks}
	for h, buf := range v.future {
		switch {
		case h == height:
			run.early = buf
			delete(v.future, h)
		case h < height:
			delete(v.future, h)
		}
	}
	if len(v.runs) == omRunsMax {
		v.drop(v.runs[0], "too many checkpoints in flight")
		v.runs = slices.Delete(v.runs, 0, 1)
	}
	v.runs = append(v.runs, run)
	v.reports.put(v.report(run, OMPending))
	v.start(run)
}

// tick is one node tick: runs waiting for their block try to start,
// running ones advance a round every RoundTicks.
func (v *omVerifier) tick() {
	kept := v.runs[:0]
	for _, run := range v.runs {
		run.wait--
		switch {
		case run.ic == nil && !v.start(run) && run.wait <= 0:
			v.drop(run, "checkpoint block not applied here in time")
			continue
		case run.ic != nil && run.wait <= 0:
			v.advance(run)
		}
		if run.ic != nil && run.ic.Done() {
			v.finish(run)
			continue
		}
		kept = append(kept, run)
	}
	clear(v.runs[len(kept):])
	v.runs = kept
}

// start begins a run once the checkpoint's block is applied here: round 1,
// this node commands its own claim.
func (v *omVerifier) start(run *omRun) bool {
	if run.ic != nil {
		return true
	}
	root, ok := v.cfg.StateAt(run.height)
	if !ok {
		return false
	}
	if v.cfg.CorruptState {
		for i := range 4 {
			root[i] ^= 0xFF
		}
	}
	run.root, run.claim = root, encodeOMClaim(run.height, root)
	ic, err := om.NewInteractive(om.InteractiveConfig{Nodes: v.n, Faults: v.faults, Self: v.self, Instance: run.height}, run.claim)
	if err != nil {
		// newOMVerifier checked n and m, and a claim fits a value.
		panic(fmt.Sprintf("om verify: %v", err))
	}
	run.ic = ic
	run.signed = make([][]byte, ic.PathSlots())
	v.advance(run)
	return true
}

// advance closes the current round and opens the next: send what the state
// machine emits, then retry the messages that were early.
func (v *omVerifier) advance(run *omRun) {
	run.ic.Tick()
	for _, m := range run.ic.Outbox() {
		v.cfg.Send(int(m.To), v.seal(m))
		run.sent++
		v.cfg.Metrics.omSent.Inc()
	}
	run.wait = v.cfg.RoundTicks
	for _, s := range run.early.take() {
		v.step(run, s)
	}
}

// finish compares the agreed vector with this node's claim and reports.
func (v *omVerifier) finish(run *omRun) {
	vector, _ := run.ic.Vector()
	rep := v.report(run, OMVerified)
	silent := 0
	for i, value := range vector {
		c := &rep.Claims[i]
		height, root, ok := decodeOMClaim(value)
		switch {
		case len(value) == 0:
			c.Status = OMClaimSilent
			silent++
		case !ok:
			c.Status = OMClaimMalformed
		case bytes.Equal(value, run.claim):
			c.Status = OMClaimMatch
		default:
			c.Status = OMClaimDiffers
		}
		c.Height, c.StateRoot = height, root
		if c.Status == OMClaimDiffers || c.Status == OMClaimMalformed {
			rep.Differing = append(rep.Differing, i)
			rep.Evidence = append(rep.Evidence, OMEvidence{Validator: i, Envelope: v.evidence(run, i)})
		}
	}
	addEquivocations(rep, run)
	switch {
	case len(rep.Differing) > 0:
		rep.Verdict = OMAlarm
		v.cfg.Metrics.omAlarms.Inc()
		for _, i := range rep.Differing {
			c := rep.Claims[i]
			v.cfg.Logger.Error("OM ALARM: a validator claims a different state at a stable checkpoint",
				"height", run.height, "validator", i, "name", c.Name, "status", c.Status,
				"claimed_height", c.Height, "claimed_root", c.StateRoot, "own_root", run.root,
				"evidence", rep.Evidence)
		}
	case silent > 0:
		rep.Verdict = OMIncomplete
		v.cfg.Metrics.omUnverified.WithLabelValues(OMIncomplete).Inc()
		v.cfg.Logger.Warn("om checkpoint incomplete: some validators claimed nothing in time", "height", run.height, "silent", silent)
	default:
		v.cfg.Metrics.omVerified.Inc()
		v.cfg.Logger.Info("om checkpoint verified", "height", run.height, "root", run.root.Short(), "sent", run.sent, "received", run.recvd)
	}
	v.reports.put(rep)
}

// evidence is validator i's round-1 envelope to this node (hex) if the
// claim it signed there differs from this node's: an envelope carrying this
// node's own claim proves nothing against i, and would contradict the alarm.
func (v *omVerifier) evidence(run *omRun, i int) string {
	direct := run.direct(i)
	m, ok := omEnvelopeMessage(direct)
	if !ok || bytes.Equal(m.Value, run.claim) {
		return ""
	}
	return hex.EncodeToString(direct)
}

// addEquivocations adds the run's equivocation pairs to the report's
// evidence, in the entry of the validator if it has one already, keeping
// the entries in validator order.
func addEquivocations(rep *OMReport, run *omRun) {
	for i, pair := range run.equivocation {
		if pair[0] == nil {
			continue
		}
		k := slices.IndexFunc(rep.Evidence, func(e OMEvidence) bool { return e.Validator == i })
		if k < 0 {
			rep.Evidence = append(rep.Evidence, OMEvidence{Validator: i})
			k = len(rep.Evidence) - 1
		}
		rep.Evidence[k].Equivocation = []string{hex.EncodeToString(pair[0]), hex.EncodeToString(pair[1])}
	}
	slices.SortFunc(rep.Evidence, func(a, b OMEvidence) int { return a.Validator - b.Validator })
}

// omEnvelopeMessage is the message inside an envelope this node opened
// before (its signature is not checked again).
func omEnvelopeMessage(raw []byte) (om.Message, bool) {
	if len(raw) <= 1+crypto.SignatureBytes {
		return om.Message{}, false
	}
	m, err := om.Decode(raw[1 : len(raw)-crypto.SignatureBytes])
	return m, err == nil
}

func (v *omVerifier) drop(run *omRun, why string) {
	v.cfg.Metrics.omUnverified.WithLabelValues(OMDropped).Inc()
	v.cfg.Logger.Warn("om checkpoint verification dropped", "height", run.height, "reason", why)
	v.reports.put(v.report(run, OMDropped))
}

// report is a fresh snapshot of a run with an empty vector.
func (v *omVerifier) report(run *omRun, verdict string) *OMReport {
	rep := &OMReport{Height: run.height, StateRoot: run.root, Verdict: verdict, Claims: make([]OMClaim, v.n),
		MessagesSent: run.sent, MessagesReceived: run.recvd, MessagesExpected: v.expected, Rounds: v.faults + 1}
	for i := range rep.Claims {
		rep.Claims[i] = OMClaim{Validator: i, Name: v.cfg.Validators.At(i).Name}
	}
	if verdict == OMPending || verdict == OMDropped {
		rep.Claims = nil
	}
	return rep
}

func encodeOMClaim(height uint64, root crypto.Hash) []byte {
	buf := binary.BigEndian.AppendUint64(make([]byte, 0, omClaimBytes), height)
	return append(buf, root[:]...)
}

func decodeOMClaim(value []byte) (uint64, crypto.Hash, bool) {
	var root crypto.Hash
	if len(value) != omClaimBytes {
		return 0, root, false
	}
	copy(root[:], value[8:])
	return binary.BigEndian.Uint64(value[:8]), root, true
}

// omReports is the bounded report history; reports are immutable once
// put, so readers on other goroutines share them.
type omReports struct {
	mu       sync.Mutex
	byHeight map[uint64]*OMReport
	order    []uint64 // ascending: checkpoints become stable in order
}

func (r *omReports) put(rep *OMReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byHeight == nil {
		r.byHeight = make(map[uint64]*OMReport)
	}
	if _, ok := r.byHeight[rep.Height]; !ok {
		r.order = append(r.order, rep.Height)
		if len(r.order) > omReportsKeptMax {
			delete(r.byHeight, r.order[0])
			r.order = slices.Delete(r.order, 0, 1)
		}
	}
	r.byHeight[rep.Height] = rep
}

func (r *omReports) get(at rpc.BlockTag) *OMReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at.Latest {
		if len(r.order) == 0 {
			return nil
		}
		return r.byHeight[r.order[len(r.order)-1]]
	}
	return r.byHeight[at.Height]
}

func (r *omReports) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}
