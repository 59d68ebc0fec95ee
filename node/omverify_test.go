package node

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/synod-chain/synod/consensus/om"
	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
)

// omCluster wires n omVerifiers in memory with synchronous rounds: every
// node ticks, then every queued envelope is delivered.
type omCluster struct {
	t         *testing.T
	vs        []*omVerifier
	keys      []crypto.PrivateKey
	vals      *ledger.ValidatorSet
	queue     []omDelivery
	penalized int
	// deliver, when set, decides which envelopes reach their receiver.
	deliver func(from int, m om.Message) bool
	// applied is the highest height whose block every node has applied.
	applied uint64
}

type omDelivery struct {
	to  int
	raw []byte
}

const omTestChain = "om-test"

func omTestRoot(height uint64) crypto.Hash {
	return crypto.Sum256([]byte(fmt.Sprint("state at ", height)))
}

func newOMCluster(t *testing.T, n int, corrupt ...int) *omCluster {
	t.Helper()
	c := &omCluster{t: t, applied: 1 << 62}
	var vals []ledger.Validator
	for i := range n {
		k, err := crypto.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		c.keys = append(c.keys, k)
		vals = append(vals, ledger.Validator{Name: fmt.Sprintf("val%d", i), PublicKey: k.Public()})
	}
	var err error
	if c.vals, err = ledger.NewValidatorSet(vals); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := range n {
		v, err := newOMVerifier(omConfig{ChainID: omTestChain, Validators: c.vals, Self: uint16(i), Key: c.keys[i],
			RoundTicks: 2, CheckpointInterval: 4, CorruptState: slices.Contains(corrupt, i),
			StateAt:  func(h uint64) (crypto.Hash, bool) { return omTestRoot(h), h <= c.applied },
			Send:     func(to int, raw []byte) { c.queue = append(c.queue, omDelivery{to, raw}) },
			Penalize: func(string, error) { c.penalized++ },
			Metrics:  NewMetrics(func() float64 { return 0 }, func() float64 { return 0 }), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		c.vs = append(c.vs, v)
	}
	return c
}

func (c *omCluster) flush() {
	for len(c.queue) > 0 {
		q := c.queue
		c.queue = nil
		for _, d := range q {
			if c.deliver != nil {
				m, err := om.Decode(d.raw[1 : len(d.raw)-crypto.SignatureBytes])
				if err != nil {
					c.t.Fatal(err)
				}
				if !c.deliver(int(m.From), m) {
					continue
				}
			}
			c.vs[d.to].receive("peer", d.raw)
		}
	}
}

// verify runs one checkpoint to the end on every node and returns the
// reports by node.
func (c *omCluster) verify(height uint64) []*OMReport {
	c.t.Helper()
	for _, v := range c.vs {
		v.checkpointStable(height)
	}
	c.flush()
	reports := make([]*OMReport, len(c.vs))
	for range 100 {
		done := true
		for i, v := range c.vs {
			reports[i] = v.reports.get(rpc.AtHeight(height))
			done = done && reports[i] != nil && reports[i].Verdict != OMPending
		}
		if done {
			return reports
		}
		for _, v := range c.vs {
			v.tick()
		}
		c.flush()
	}
	c.t.Fatalf("checkpoint %d not decided in 100 ticks", height)
	return nil
}

func TestOMVerifyLoyalNetworkAgrees(t *testing.T) {
	// Goal: with every validator loyal and in the same state, every node
	// verifies every checkpoint with the same vector, and the network sends
	// exactly n × ((n-1) + (n-1)(n-2) + …) messages per checkpoint; method:
	// in-memory clusters of 4 and 7 verifiers, three checkpoints each.
	for _, tc := range []struct{ n, want int }{{4, 36}, {7, 1092}} {
		c := newOMCluster(t, tc.n)
		for _, h := range []uint64{4, 8, 12} {
			reports := c.verify(h)
			sent := 0
			for i, r := range reports {
				if r.Verdict != OMVerified || len(r.Differing) != 0 {
					t.Fatalf("n=%d h=%d node %d: verdict %s differing %v", tc.n, h, i, r.Verdict, r.Differing)
				}
				if !slices.Equal(r.Claims, reports[0].Claims) {
					t.Fatalf("n=%d h=%d: node %d vector %+v, node 0 %+v", tc.n, h, i, r.Claims, reports[0].Claims)
				}
				for _, cl := range r.Claims {
					if cl.Status != OMClaimMatch || cl.Height != h || cl.StateRoot != omTestRoot(h) {
						t.Fatalf("n=%d h=%d node %d: claim %+v", tc.n, h, i, cl)
					}
				}
				sent += r.MessagesSent
			}
			if sent != tc.want || reports[0].MessagesExpected != tc.want {
				t.Fatalf("n=%d: %d messages sent, expected field %d, want %d", tc.n, sent, reports[0].MessagesExpected, tc.want)
			}
		}
		if c.penalized != 0 {
			t.Fatalf("n=%d: %d loyal messages refused", tc.n, c.penalized)
		}
	}
}

func TestOMVerifyCorruptClaimRaisesAlarm(t *testing.T) {
	// Goal: a validator claiming a wrong state root is named by the alarm on
	// every loyal node, with its signed claim as checkable evidence; method:
	// 4 in-memory verifiers, node 2 with the corrupt-state hook.
	const bad = 2
	c := newOMCluster(t, 4, bad)
	reports := c.verify(16)
	for i, r := range reports {
		if i == bad {
			continue
		}
		if r.Verdict != OMAlarm || !slices.Equal(r.Differing, []int{bad}) {
			t.Fatalf("node %d: verdict %s differing %v, want alarm naming %d", i, r.Verdict, r.Differing, bad)
		}
		if claim := r.Claims[bad]; claim.Status != OMClaimDiffers || claim.StateRoot == omTestRoot(16) || claim.Height != 16 {
			t.Fatalf("node %d: claim of %d is %+v", i, bad, claim)
		}
		if len(r.Evidence) != 1 || r.Evidence[0].Validator != bad {
			t.Fatalf("node %d: evidence %+v", i, r.Evidence)
		}
		raw, err := hex.DecodeString(r.Evidence[0].Envelope)
		if err != nil {
			t.Fatal(err)
		}
		body := raw[1 : len(raw)-crypto.SignatureBytes]
		var sig crypto.Signature
		copy(sig[:], raw[len(raw)-crypto.SignatureBytes:])
		if err := crypto.Verify(c.keys[bad].Public(), crypto.DomainOM, omTestChain, body, sig); err != nil {
			t.Fatalf("node %d: evidence does not verify: %v", i, err)
		}
		m, err := om.Decode(body)
		if err != nil || m.From != bad || !bytes.Equal(m.Value, encodeOMClaim(16, r.Claims[bad].StateRoot)) {
			t.Fatalf("node %d: evidence message %+v (%v)", i, m, err)
		}
	}
	if !slices.Equal(reports[0].Claims, reports[1].Claims) || !slices.Equal(reports[0].Claims, reports[3].Claims) {
		t.Fatal("loyal nodes hold different vectors")
	}
}

func TestOMEnvelopeDemux(t *testing.T) {
	// Goal: on the shared consensus streams an OM envelope never reaches the
	// PBFT decoder and a PBFT message never reaches the OM verifier; method:
	// feed both kinds to driver.deliver and look in which queue each lands,
	// then cross-decode them.
	if omEnvelopeKind == pbft.MessageVersion {
		t.Fatal("OM envelope kind equals the PBFT message version")
	}
	c := newOMCluster(t, 4)
	pb := pbft.Encode(&pbft.Message{Kind: pbft.KindPrepare, From: 1, View: 3, Height: 9})
	env := c.vs[1].seal(om.Message{Instance: 8, From: 1, To: 0, Path: []om.NodeID{1}, Value: encodeOMClaim(8, omTestRoot(8))})
	d := &driver{inbox: make(chan inboundMessage, 4), omInbox: make(chan inboundMessage, 4), metrics: c.vs[0].cfg.Metrics}
	d.deliver("p", pb)
	d.deliver("p", env)
	if len(d.inbox) != 1 || len(d.omInbox) != 1 {
		t.Fatalf("pbft inbox %d, om inbox %d; want 1 and 1", len(d.inbox), len(d.omInbox))
	}
	if got := <-d.inbox; !bytes.Equal(got.raw, pb) {
		t.Fatal("PBFT inbox holds the OM envelope")
	}
	if got := <-d.omInbox; !bytes.Equal(got.raw, env) {
		t.Fatal("OM inbox holds the PBFT message")
	}
	if _, err := pbft.Decode(env); err == nil {
		t.Fatal("the PBFT decoder accepts an OM envelope")
	}
	if _, err := c.vs[0].open(pb); err == nil {
		t.Fatal("the OM verifier accepts a PBFT message")
	}
	// A node without om_verify drops OM envelopes instead of decoding them.
	off := &driver{inbox: make(chan inboundMessage, 4), metrics: c.vs[0].cfg.Metrics}
	off.deliver("p", env)
	if len(off.inbox) != 0 {
		t.Fatal("a node without om_verify queued an OM envelope for PBFT")
	}
}

func TestOMForgedMessagesDropped(t *testing.T) {
	// Goal: only a message signed by its sender under DomainOM for this
	// chain and addressed to this node reaches the OM state machine;
	// method: node 0 starts a run and receives validator 1's round-1 claim
	// forged in each way, then genuine.
	c := newOMCluster(t, 4)
	v := c.vs[0]
	v.checkpointStable(4)
	c.queue = nil // node 0's own round-1 messages
	m := om.Message{Instance: 4, From: 1, To: 0, Path: []om.NodeID{1}, Value: encodeOMClaim(4, omTestRoot(4))}
	body := m.AppendEncode(nil)
	envelope := func(key crypto.PrivateKey, domain crypto.Domain, chain string, body []byte) []byte {
		sig := key.Sign(domain, chain, body)
		return append(append([]byte{omEnvelopeKind}, body...), sig[:]...)
	}
	tampered := envelope(c.keys[1], crypto.DomainOM, omTestChain, body)
	tampered[len(tampered)-crypto.SignatureBytes-1] ^= 1 // a byte of the value
	toOther := m
	toOther.To = 2
	forged := map[string][]byte{
		"signed by another validator": envelope(c.keys[3], crypto.DomainOM, omTestChain, body),
		"signed for consensus":        envelope(c.keys[1], crypto.DomainConsensus, omTestChain, body),
		"signed for another chain":    envelope(c.keys[1], crypto.DomainOM, "other-chain", body),
		"value changed after signing": tampered,
		"addressed to another node":   c.vs[1].seal(toOther),
		"truncated":                   envelope(c.keys[1], crypto.DomainOM, omTestChain, body)[:40],
		"oversized":                   make([]byte, omEnvelopeBytesMax+1),
	}
	for name, raw := range forged {
		before := c.penalized
		v.receive("peer", raw)
		if c.penalized != before+1 || v.runs[0].recvd != 0 {
			t.Fatalf("%s: penalized %d→%d, received %d", name, before, c.penalized, v.runs[0].recvd)
		}
	}
	v.receive("peer", c.vs[1].seal(m))
	if v.runs[0].recvd != 1 || v.runs[0].direct(1) == nil {
		t.Fatalf("genuine message not taken: received %d", v.runs[0].recvd)
	}
}

func TestOMBounds(t *testing.T) {
	// Goal: every OM table stays bounded whatever peers send or however
	// fast checkpoints come; method: overfill each one and count.
	c := newOMCluster(t, 4)
	c.applied = 0 // no block applied: runs wait to start
	v := c.vs[0]

	// Runs in flight: the oldest is dropped and reported so.
	for h := uint64(4); h <= 4*(omRunsMax+2); h += 4 {
		v.checkpointStable(h)
	}
	if len(v.runs) != omRunsMax || v.runs[0].height != 12 {
		t.Fatalf("%d runs from height %d, want %d from 12", len(v.runs), v.runs[0].height, omRunsMax)
	}
	if r := v.reports.get(rpc.AtHeight(4)); r == nil || r.Verdict != OMDropped {
		t.Fatalf("report of the dropped run: %+v", r)
	}

	// A run whose block never comes is dropped after its wait.
	for range omStartWaitRoundsMax*v.cfg.RoundTicks + 1 {
		v.tick()
	}
	if len(v.runs) != 0 {
		t.Fatalf("%d runs still waiting for their block", len(v.runs))
	}

	// Early messages: at most perSender per validator and height, and at
	// most omFutureHeightsMax heights ahead.
	for h := v.stable + 4; h < v.stable+4*(omFutureHeightsMax+3); h += 4 {
		for k := range v.perSender + 5 {
			m := om.Message{Instance: h, From: 1, To: 0, Path: []om.NodeID{1}, Value: []byte{byte(k)}}
			if k%2 == 1 {
				m.Path = []om.NodeID{2, 1} // a relay of validator 2's claim
			}
			v.receive("peer", c.vs[1].seal(m))
		}
	}
	if len(v.future) != omFutureHeightsMax {
		t.Fatalf("%d future heights kept, limit %d", len(v.future), omFutureHeightsMax)
	}
	for h, buf := range v.future {
		if len(buf.msgs) != v.perSender {
			t.Fatalf("height %d: %d early messages from one sender, limit %d", h, len(buf.msgs), v.perSender)
		}
	}

	// Report history.
	var reports omReports
	for h := range uint64(omReportsKeptMax + 10) {
		reports.put(&OMReport{Height: h + 1})
	}
	if reports.len() != omReportsKeptMax || reports.get(rpc.AtHeight(1)) != nil || reports.get(rpc.Latest).Height != omReportsKeptMax+10 {
		t.Fatalf("history of %d reports, latest %d", reports.len(), reports.get(rpc.Latest).Height)
	}

	// Round length from config, clamped.
	for _, tc := range []struct {
		timeoutMs uint64
		tick      time.Duration
		want      int
	}{{1000, 20 * time.Millisecond, 12}, {2000, 50 * time.Millisecond, 10}, {100, 50 * time.Millisecond, omRoundTicksMin}, {600_000, time.Millisecond, omRoundTicksMax}} {
		if got := omRoundTicks(tc.timeoutMs, tc.tick); got != tc.want {
			t.Fatalf("omRoundTicks(%d, %s) = %d, want %d", tc.timeoutMs, tc.tick, got, tc.want)
		}
	}
}

func TestConfigOMCorruptStateOnlyWhenSet(t *testing.T) {
	// Goal: the om_corrupt_state hook is written to config.toml only when
	// set, and read back; method: write and load two homes.
	for _, set := range []bool{false, true} {
		home := t.TempDir()
		cfg := DefaultConfig("n0")
		cfg.OMVerify, cfg.Testing.OMCorruptState = true, set
		if err := WriteConfig(home, cfg); err != nil {
			t.Fatal(err)
		}
		raw, err := readFileMax(home+"/"+ConfigFile, configFileBytesMax)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("om_corrupt_state")) != set || bytes.Contains(raw, []byte("[testing]")) != set {
			t.Fatalf("set=%v: config.toml:\n%s", set, raw)
		}
		back, err := LoadConfig(home)
		if err != nil {
			t.Fatal(err)
		}
		if back.Testing.OMCorruptState != set || !back.OMVerify {
			t.Fatalf("set=%v: read back %+v", set, back.Testing)
		}
	}
}

func TestOMFarFutureHeightsDoNotCrowdOutEarlyMessages(t *testing.T) {
	// Goal: a traitor cannot take the early-message table for itself with
	// heights no checkpoint will ever reach, so a slower loyal node still
	// keeps a faster peer's messages for its next checkpoint; method: the
	// traitor (validator 3) sends validly signed messages for far and for
	// non-checkpoint heights, then validator 1 sends one for the next
	// checkpoint, before node 0 reaches it.
	c := newOMCluster(t, 4)
	c.applied = 0
	v := c.vs[0]
	v.checkpointStable(8)
	for _, h := range []uint64{1 << 62, 1<<62 + 4, 1<<62 + 8, 1<<62 + 12, 9, 10, 11} {
		m := om.Message{Instance: h, From: 3, To: 0, Path: []om.NodeID{3}, Value: []byte{1}}
		v.receive("traitor", c.vs[3].seal(m))
	}
	m := om.Message{Instance: 12, From: 1, To: 0, Path: []om.NodeID{1}, Value: []byte{2}}
	v.receive("loyal", c.vs[1].seal(m))
	if buf := v.future[12]; buf == nil || len(buf.msgs) != 1 {
		t.Fatalf("validator 1's message for checkpoint 12 was dropped; early heights kept: %v", slices.Sorted(maps.Keys(v.future)))
	}
	if len(v.future) > omFutureHeightsMax {
		t.Fatalf("%d early heights kept, limit %d", len(v.future), omFutureHeightsMax)
	}
}

func TestOMEarlyMessagesKeptAfterRestart(t *testing.T) {
	// Goal: a node restarted high up the chain, which has seen no stable
	// checkpoint since, still keeps a faster peer's messages for the next
	// checkpoint above its head; method: a verifier started at height 1001
	// receives validator 1's round-1 claim for checkpoint 1004 before that
	// checkpoint is stable here, then the checkpoint becomes stable.
	c := newOMCluster(t, 4)
	v := c.vs[0]
	v.cfg.StartHeight = 1001
	const next = 1004
	m := om.Message{Instance: next, From: 1, To: 0, Path: []om.NodeID{1}, Value: encodeOMClaim(next, omTestRoot(next))}
	v.receive("peer", c.vs[1].seal(m))
	v.checkpointStable(next)
	if run := v.run(next); run == nil || run.direct(1) == nil || run.recvd != 1 {
		t.Fatalf("validator 1's early claim for checkpoint %d was not kept after a restart at %d", next, v.cfg.StartHeight)
	}
}

func TestOMStaleHeightsAfterRestartDoNotCrowdOutEarlyMessages(t *testing.T) {
	// Goal: after a restart, while no checkpoint is stable here yet, messages
	// for checkpoints at or below the head (a traitor's, or a peer's still
	// running an old run) cannot fill the early-message table and crowd out
	// a faster peer's claim for the next checkpoint; method: a verifier
	// started at height 1001 receives validly signed messages for old
	// checkpoints, 1000 included, and for the three after the next, then
	// validator 1's claim for the next one, 1004.
	c := newOMCluster(t, 4)
	v := c.vs[0]
	v.cfg.StartHeight = 1001
	for _, h := range []uint64{4, 996, 1000, 1008, 1012, 1016} {
		m := om.Message{Instance: h, From: 3, To: 0, Path: []om.NodeID{3}, Value: []byte{1}}
		v.receive("traitor", c.vs[3].seal(m))
	}
	const next = 1004
	m := om.Message{Instance: next, From: 1, To: 0, Path: []om.NodeID{1}, Value: encodeOMClaim(next, omTestRoot(next))}
	v.receive("loyal", c.vs[1].seal(m))
	if buf := v.future[next]; buf == nil || len(buf.msgs) != 1 {
		t.Fatalf("validator 1's claim for checkpoint %d was dropped; early heights kept: %v", next, slices.Sorted(maps.Keys(v.future)))
	}
}

func TestOMEvidenceIsAClaimThatDiffers(t *testing.T) {
	// Goal: the evidence attached to an alarm is a claim the named
	// validator signed that differs from this node's state, never one that
	// matches it; method: validator 3 claims a wrong root to nodes 1 and 2
	// but the right one to node 0, so node 0's agreed entry for 3 (from the
	// relays) differs while 3's envelope to node 0 does not.
	const bad, height = 3, 16
	c := newOMCluster(t, 4, bad)
	for _, v := range c.vs {
		v.checkpointStable(height)
	}
	for i, d := range c.queue {
		if d.to != 0 {
			continue
		}
		if m, err := c.vs[0].open(d.raw); err == nil && m.From == bad && len(m.Path) == 1 {
			m.Value = encodeOMClaim(height, omTestRoot(height))
			c.queue[i].raw = c.vs[bad].seal(m)
		}
	}
	reports := c.verify(height)
	for i, r := range reports[:bad] {
		if r.Verdict != OMAlarm || !slices.Equal(r.Differing, []int{bad}) || len(r.Evidence) != 1 {
			t.Fatalf("node %d: verdict %s differing %v evidence %+v, want an alarm naming %d", i, r.Verdict, r.Differing, r.Evidence, bad)
		}
		raw, err := hex.DecodeString(r.Evidence[0].Envelope)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if len(raw) != 0 {
				t.Fatalf("node 0: evidence is validator %d's envelope with node 0's own claim", bad)
			}
			continue
		}
		m, err := om.Decode(raw[1 : len(raw)-crypto.SignatureBytes])
		if err != nil || bytes.Equal(m.Value, encodeOMClaim(height, omTestRoot(height))) {
			t.Fatalf("node %d: evidence %+v (%v) does not carry the wrong claim", i, m, err)
		}
	}
}

func TestOMSilentValidatorMakesRunIncomplete(t *testing.T) {
	// Goal: a validator that claims nothing is reported silent and the
	// checkpoint incomplete, neither verified nor an alarm; method: 4
	// in-memory verifiers, every envelope from validator 3 lost.
	const mute = 3
	c := newOMCluster(t, 4)
	c.deliver = func(from int, _ om.Message) bool { return from != mute }
	reports := c.verify(8)
	for i, r := range reports[:mute] {
		if r.Verdict != OMIncomplete || len(r.Differing) != 0 || r.Claims[mute].Status != OMClaimSilent {
			t.Fatalf("node %d: verdict %s differing %v claim %+v, want incomplete with %d silent", i, r.Verdict, r.Differing, r.Claims[mute], mute)
		}
	}
}

func TestOMClaimAtAnotherHeightDiffers(t *testing.T) {
	// Goal: a claim is the pair (height, root): the right root claimed for
	// another height is an alarm, not a match; method: validator 3's
	// round-1 claims are re-signed as (20, root at 16) before delivery.
	const bad, height = 3, 16
	c := newOMCluster(t, 4)
	for _, v := range c.vs {
		v.checkpointStable(height)
	}
	c.resignClaims(bad, encodeOMClaim(height+4, omTestRoot(height)))
	reports := c.verify(height)
	for i, r := range reports[:bad] {
		if r.Verdict != OMAlarm || !slices.Equal(r.Differing, []int{bad}) || r.Claims[bad].Height != height+4 {
			t.Fatalf("node %d: verdict %s differing %v claim %+v, want an alarm naming %d", i, r.Verdict, r.Differing, r.Claims[bad], bad)
		}
	}
}

func TestOMEarlyMessagesOfARunningRun(t *testing.T) {
	// Goal: in a running run, a faster peer's message for the next round
	// is kept and used once this node gets there, and the early-message
	// table is cleared of checkpoints a stable one has passed; method: node
	// 0 in round 1 receives validator 1's round-2 relay, then ticks into
	// round 2; then messages for checkpoints 8 and 12 wait until 12 is
	// stable.
	c := newOMCluster(t, 4)
	v := c.vs[0]
	v.checkpointStable(4)
	run := v.run(4)
	relay := om.Message{Instance: 4, From: 1, To: 0, Path: []om.NodeID{2, 1}, Value: encodeOMClaim(4, omTestRoot(4))}
	v.receive("peer", c.vs[1].seal(relay))
	if run.recvd != 0 {
		t.Fatalf("round-2 message taken in round 1")
	}
	for range v.cfg.RoundTicks {
		v.tick()
	}
	if run.ic.Round() != 2 || run.recvd != 1 {
		t.Fatalf("round %d: %d messages taken, want validator 1's early relay in round 2", run.ic.Round(), run.recvd)
	}

	for _, h := range []uint64{8, 12} {
		m := om.Message{Instance: h, From: 1, To: 0, Path: []om.NodeID{1}, Value: encodeOMClaim(h, omTestRoot(h))}
		v.receive("peer", c.vs[1].seal(m))
	}
	v.checkpointStable(12)
	if len(v.future) != 0 {
		t.Fatalf("early messages kept for checkpoints %v, below or at the stable 12", slices.Sorted(maps.Keys(v.future)))
	}
	// A message for the checkpoint just made stable goes to its run, and
	// one for a run no longer here is late: neither waits in the table.
	late := om.Message{Instance: 4, From: 1, To: 0, Path: []om.NodeID{1}, Value: encodeOMClaim(4, omTestRoot(4))}
	v.runs = slices.DeleteFunc(v.runs, func(r *omRun) bool { return r.height == 12 }) // as if it had finished
	for _, m := range []om.Message{late, {Instance: 12, From: 2, To: 0, Path: []om.NodeID{2}, Value: []byte{1}}} {
		v.receive("peer", c.vs[int(m.From)].seal(m))
	}
	if len(v.future) != 0 {
		t.Fatalf("late messages kept for checkpoints %v", slices.Sorted(maps.Keys(v.future)))
	}
}

func TestOMMalformedClaimRaisesAlarm(t *testing.T) {
	// Goal: a validator whose agreed claim is not a (height, root) pair is
	// named by an alarm as malformed, not passed over as verified; method:
	// validator 3's round-1 claims are re-signed as 3 bytes before delivery.
	const bad, height = 3, 16
	c := newOMCluster(t, 4)
	for _, v := range c.vs {
		v.checkpointStable(height)
	}
	c.resignClaims(bad, []byte{1, 2, 3})
	reports := c.verify(height)
	for i, r := range reports[:bad] {
		if r.Verdict != OMAlarm || !slices.Equal(r.Differing, []int{bad}) || r.Claims[bad].Status != OMClaimMalformed {
			t.Fatalf("node %d: verdict %s differing %v claim %+v, want an alarm naming %d as malformed", i, r.Verdict, r.Differing, r.Claims[bad], bad)
		}
	}
}

func TestOMPerSenderIsWhatOneValidatorSendsAnother(t *testing.T) {
	// Goal: the early-message share of a sender is exactly what a loyal
	// validator sends one other in a run — no smaller, or a faster loyal
	// peer's messages would be dropped, and no larger, or a traitor could
	// make a node hold more; method: count validator 1's envelopes to node
	// 0 in loyal runs of 4 and 7.
	for _, n := range []int{4, 7} {
		c := newOMCluster(t, n)
		sent := 0
		c.deliver = func(from int, m om.Message) bool {
			if from == 1 && m.To == 0 {
				sent++
			}
			return true
		}
		c.verify(4)
		if sent != c.vs[0].perSender {
			t.Fatalf("n=%d: validator 1 sent node 0 %d messages, perSender is %d", n, sent, c.vs[0].perSender)
		}
	}
}

// resignClaims replaces validator from's queued round-1 claims by value,
// signed by from, as a traitor would send them.
func (c *omCluster) resignClaims(from om.NodeID, value []byte) {
	for i, d := range c.queue {
		m, err := om.Decode(d.raw[1 : len(d.raw)-crypto.SignatureBytes])
		if err == nil && m.From == from && len(m.Path) == 1 {
			m.Value = value
			c.queue[i].raw = c.vs[from].seal(m)
		}
	}
}

func TestOMEquivocationKeepsBothClaims(t *testing.T) {
	// Goal: a validator that signs this node two different round-1 claims
	// for one checkpoint is reported with both envelopes as evidence, while
	// a claim sent again unchanged is not evidence; method: in a loyal run
	// of 4, node 0 gets validator 3's claim and then a wrong one in round 1
	// (the state machine refuses it as a duplicate), validator 1's wrong
	// one in round 2 (late), and validator 2's claim twice.
	const height = 16
	c := newOMCluster(t, 4)
	for _, v := range c.vs {
		v.checkpointStable(height)
	}
	wrong := encodeOMClaim(height, omTestRoot(height+1))
	claimTo0 := func(from om.NodeID) om.Message {
		return om.Message{Instance: height, From: from, To: 0, Path: []om.NodeID{from}, Value: encodeOMClaim(height, omTestRoot(height))}
	}
	var again []byte
	for _, d := range c.queue {
		if m, err := c.vs[0].open(d.raw); err == nil && d.to == 0 && m.From == 2 && len(m.Path) == 1 {
			again = d.raw
		}
	}
	second := claimTo0(3)
	second.Value = wrong
	c.queue = append(c.queue, omDelivery{0, again}, omDelivery{0, c.vs[3].seal(second)})
	c.flush()
	for range c.vs[0].cfg.RoundTicks {
		for _, v := range c.vs {
			v.tick()
		}
	}
	if round := c.vs[0].run(height).ic.Round(); round != 2 {
		t.Fatalf("node 0 in round %d, want 2", round)
	}
	late := claimTo0(1)
	late.Value = wrong
	c.vs[0].receive("peer", c.vs[1].seal(late))
	reports := c.verify(height)

	r := reports[0]
	var against []int
	for _, e := range r.Evidence {
		against = append(against, e.Validator)
	}
	if !slices.Equal(against, []int{1, 3}) {
		t.Fatalf("node 0: evidence against validators %v, want 1 and 3 (2 sent the same claim twice)", against)
	}
	for _, e := range r.Evidence {
		if len(e.Equivocation) != 2 {
			t.Fatalf("validator %d: equivocation %v, want both envelopes", e.Validator, e.Equivocation)
		}
		var values [][]byte
		for _, h := range e.Equivocation {
			raw, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			m, err := c.vs[0].open(raw) // signed by the validator, to node 0
			if err != nil || int(m.From) != e.Validator || !slices.Equal(m.Path, []om.NodeID{m.From}) || m.Instance != height {
				t.Fatalf("validator %d: evidence envelope %+v (%v) is not its round-1 claim to node 0", e.Validator, m, err)
			}
			values = append(values, m.Value)
		}
		if !bytes.Equal(values[0], encodeOMClaim(height, omTestRoot(height))) || !bytes.Equal(values[1], wrong) {
			t.Fatalf("validator %d: evidence claims %x, want its first claim then the wrong one", e.Validator, values)
		}
	}
	for i, r := range reports[1:] {
		if len(r.Evidence) != 0 {
			t.Fatalf("node %d: evidence %+v, but nothing was sent it twice", i+1, r.Evidence)
		}
	}
}

// nextRound ticks every node into the next OM round, queueing (not
// delivering) that round's messages.
func (c *omCluster) nextRound() {
	for range c.vs[0].cfg.RoundTicks {
		for _, v := range c.vs {
			v.tick()
		}
	}
}

// queued is the queued message from one validator to another for a path.
func (c *omCluster) queued(from, to om.NodeID, path ...om.NodeID) om.Message {
	c.t.Helper()
	for _, d := range c.queue {
		m, err := om.Decode(d.raw[1 : len(d.raw)-crypto.SignatureBytes])
		if err == nil && m.From == from && m.To == to && slices.Equal(m.Path, path) {
			return m
		}
	}
	c.t.Fatalf("no message %d → %d for path %v queued", from, to, path)
	return om.Message{}
}

// equivocationPair opens a report entry's equivocation pair as node v
// (each envelope must be signed by its sender and addressed to v).
func equivocationPair(t *testing.T, v *omVerifier, e OMEvidence) [2]om.Message {
	t.Helper()
	if len(e.Equivocation) != 2 {
		t.Fatalf("validator %d: equivocation %v, want two envelopes", e.Validator, e.Equivocation)
	}
	var pair [2]om.Message
	for i, h := range e.Equivocation {
		raw, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		if pair[i], err = v.open(raw); err != nil || int(pair[i].From) != e.Validator {
			t.Fatalf("validator %d: evidence envelope %+v (%v) is not signed by it to node %d", e.Validator, pair[i], err, v.self)
		}
	}
	return pair
}

func TestOMRelayEquivocationNamesTheRelayer(t *testing.T) {
	// Goal: a validator whose round-1 claims are all consistent but which
	// signs a node two different relays of one path is named by that
	// node's evidence with both envelopes, whatever the verdict, which is
	// unchanged; method: validator 3's relay of path [1 3] to node 0 is
	// followed by one with a wrong value, in the same round with n = 4
	// (refused as a duplicate, then validator 2 signs the wrong value for
	// that path) and in the next round with n = 7 (late).
	const bad, height = 3, 16
	for _, n := range []int{4, 7} {
		c := newOMCluster(t, n)
		for _, v := range c.vs {
			v.checkpointStable(height)
		}
		c.flush()
		c.nextRound()
		right := c.queued(bad, 0, 1, bad)
		wrong := right
		wrong.Value = encodeOMClaim(height, omTestRoot(height+1))
		if n == 4 {
			// Validator 2 signing a value for 3's path is not 3's
			// statement, nor two of its own: it names nobody.
			forged := wrong
			forged.From = 2
			c.queue = append(c.queue, omDelivery{0, c.vs[bad].seal(wrong)}, omDelivery{0, c.vs[2].seal(forged)})
		} else {
			c.flush()
			c.nextRound()
			c.vs[0].receive("peer", c.vs[bad].seal(wrong))
		}
		reports := c.verify(height)

		for i, r := range reports {
			if r.Verdict != OMVerified {
				t.Fatalf("n=%d node %d: verdict %s, want verified (evidence does not change it)", n, i, r.Verdict)
			}
			if i != 0 && len(r.Evidence) != 0 {
				t.Fatalf("n=%d node %d: evidence %+v, but nobody signed it two values", n, i, r.Evidence)
			}
		}
		ev := reports[0].Evidence
		if len(ev) != 1 || ev[0].Validator != bad {
			t.Fatalf("n=%d node 0: evidence %+v, want validator %d's two relays", n, ev, bad)
		}
		pair := equivocationPair(t, c.vs[0], ev[0])
		for i, want := range []om.Message{right, wrong} {
			if !slices.Equal(pair[i].Path, want.Path) || !bytes.Equal(pair[i].Value, want.Value) {
				t.Fatalf("n=%d node 0: evidence %d is %+v, want %+v", n, i, pair[i], want)
			}
		}
	}
}

func TestOMConflictingRelaysOfAClaimNameNoRelayer(t *testing.T) {
	// Goal: only a validator's own two values for one path are evidence: a
	// loyal relayer passing on a traitor's split claim signs a value that
	// contradicts the traitor's claim to this node, and relays of different
	// commanders' paths with different values, and is not named; nor is a
	// relay the network delivers twice; the traitor's own two relays of
	// one path are; method: in a run of 4, validator 3 claims a wrong root
	// to node 1 only (one claim per node: no proof), node 1's relays to
	// node 0 are [2 1] right and [3 1] wrong, the latter delivered twice,
	// and 3 signs node 0 two relays of [2 3].
	const bad, height = 3, 16
	c := newOMCluster(t, 4)
	for _, v := range c.vs {
		v.checkpointStable(height)
	}
	wrongClaim := encodeOMClaim(height, omTestRoot(height+1))
	for i, d := range c.queue {
		if m, err := c.vs[1].open(d.raw); err == nil && d.to == 1 && m.From == bad && len(m.Path) == 1 {
			m.Value = wrongClaim
			c.queue[i].raw = c.vs[bad].seal(m)
		}
	}
	c.flush()
	c.nextRound()
	relayed := c.queued(1, 0, bad, 1)
	if !bytes.Equal(relayed.Value, wrongClaim) {
		t.Fatalf("node 1 relays %x for [3 1], want 3's split claim", relayed.Value)
	}
	again := c.vs[1].seal(relayed)
	second := c.queued(bad, 0, 2, bad)
	second.Value = wrongClaim
	c.queue = append(c.queue, omDelivery{0, again}, omDelivery{0, c.vs[bad].seal(second)})
	reports := c.verify(height)

	for i, r := range reports[:bad] {
		if r.Verdict != OMVerified {
			t.Fatalf("node %d: verdict %s, want verified (the loyal majority outvotes the split)", i, r.Verdict)
		}
	}
	ev := reports[0].Evidence
	if len(ev) != 1 || ev[0].Validator != bad {
		t.Fatalf("node 0: evidence %+v, want only validator %d's two relays of [2 3]", ev, bad)
	}
	if pair := equivocationPair(t, c.vs[0], ev[0]); !slices.Equal(pair[1].Path, []om.NodeID{2, bad}) {
		t.Fatalf("node 0: evidence against %d is for path %v, want [2 3]", bad, pair[1].Path)
	}
	for i, r := range reports[1:] {
		if len(r.Evidence) != 0 {
			t.Fatalf("node %d: evidence %+v, but nobody signed it two values for one path", i+1, r.Evidence)
		}
	}
}
