package pbft_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// cluster is a hand-driven network for directed tests: messages queue in
// order and are delivered only when the test says so, through a filter.
type cluster struct {
	t       testing.TB
	n       int
	chainID string
	vals    *ledger.ValidatorSet
	params  ledger.ConsensusParams
	genesis *ledger.Block
	gdiff   *ledger.StateDiff
	signers []pbft.Signer
	verif   pbft.Verifier
	reps    []*pbft.Replica
	chains  []*ledger.PendingChain
	states  []*ledger.MemState
	heads   []ledger.Header
	records [][]pbft.Record
	logs    [][]pbft.CommittedBlock
	events  [][]pbft.Event
	queue   []envelope
	// drop, when set, filters deliveries; outgoing, when set, rewrites
	// what replica i sends (a Byzantine replica).
	drop     func(e envelope) bool
	outgoing map[int]func(o pbft.Outbound) []pbft.Outbound
	down     map[int]bool
	// paused replicas are up but their clock stands still: tick skips
	// them, so no timer of theirs expires (a slow node, as asynchrony
	// allows), while they still receive what drop lets through.
	paused map[int]bool
	// manualCatchUp leaves EventCatchUp to the test; otherwise the
	// cluster serves it from the longest log, as the node's sync would.
	manualCatchUp bool
	catchUps      []int
	now           int64
	sent          int
	// emptyBlockTicks and idle configure idle block production (see
	// pbft.Config.EmptyBlockTicks); set before start.
	emptyBlockTicks uint64
	idle            func() bool
	// wrapApp, when set, replaces replica i's Application with what it
	// returns (an application whose state fails); set before start.
	wrapApp func(i int, app pbft.Application) pbft.Application
}

type envelope struct {
	from, to int
	m        *pbft.Message
}

type clusterOpts struct {
	n        int
	ed25519  bool
	noop     bool
	k, w     uint64
	timeoutT uint64
	// blockBytes, if set, is the genesis's block_bytes_max.
	blockBytes uint32
}

func newCluster(t testing.TB, o clusterOpts) *cluster {
	if o.k == 0 {
		o.k, o.w = 4, 8
	}
	if o.timeoutT == 0 {
		o.timeoutT = 10
	}
	c := &cluster{t: t, n: o.n, chainID: "synod-test", outgoing: map[int]func(pbft.Outbound) []pbft.Outbound{}, down: map[int]bool{}, paused: map[int]bool{}}
	keys := make([]crypto.PrivateKey, o.n)
	g := &ledger.Genesis{ChainID: c.chainID, GenesisTime: time.Unix(1_700_000_000, 0).UTC(), Consensus: ledger.DefaultConsensusParams()}
	g.Consensus.CheckpointInterval, g.Consensus.WindowHeights = o.k, o.w
	if o.blockBytes != 0 {
		g.Consensus.BlockBytesMax = o.blockBytes
	}
	for i := range keys {
		seed := crypto.Sum256(fmt.Appendf(nil, "pbft-test/%d", i))
		keys[i], _ = crypto.PrivateKeyFromSeed(seed[:])
		g.Validators = append(g.Validators, ledger.Validator{Name: fmt.Sprint("v", i), PublicKey: keys[i].Public()})
	}
	g.Accounts = []ledger.GenesisAccount{{Address: keys[0].Public().Address(), Amount: 1000}}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	c.vals, _ = g.ValidatorSet()
	c.params = g.Consensus
	c.genesis, c.gdiff = ledger.GenesisBlock(g)
	secrets := make([]crypto.Hash, o.n)
	for i := range keys {
		secrets[i] = crypto.Sum256(fmt.Appendf(nil, "secret/%d", i))
		switch {
		case o.ed25519:
			c.signers = append(c.signers, pbft.Ed25519Signer{Key: keys[i], ChainID: c.chainID})
		case o.noop:
			c.signers = append(c.signers, pbft.NoopSigner{})
		default:
			c.signers = append(c.signers, pbft.KeyedHashSigner{Secret: secrets[i]})
		}
	}
	switch {
	case o.ed25519:
		c.verif = pbft.Ed25519Verifier{Validators: c.vals, ChainID: c.chainID}
	case o.noop:
		c.verif = pbft.NoopVerifier{Validators: o.n}
	default:
		c.verif = pbft.KeyedHashVerifier{Secrets: secrets}
	}
	c.reps = make([]*pbft.Replica, o.n)
	c.chains = make([]*ledger.PendingChain, o.n)
	c.records = make([][]pbft.Record, o.n)
	c.logs = make([][]pbft.CommittedBlock, o.n)
	c.events = make([][]pbft.Event, o.n)
	for i := range o.n {
		st := ledger.NewMemState()
		st.Apply(c.gdiff)
		c.states = append(c.states, st)
		c.heads = append(c.heads, c.genesis.Header)
		c.start(i, o.timeoutT)
	}
	return c
}

// start (re)builds replica i from its persisted records and durable state.
func (c *cluster) start(i int, timeoutTicks uint64) {
	c.chains[i] = ledger.NewPendingChain(c.chainID, c.params, c.heads[i], c.states[i])
	var app pbft.Application = pbft.ChainApplication{Chain: c.chains[i], IdleFunc: c.idle}
	if c.wrapApp != nil {
		app = c.wrapApp(i, app)
	}
	r, err := pbft.NewReplica(pbft.Config{
		ChainID: c.chainID, ID: uint16(i), Validators: c.vals, Params: c.params,
		App:    app,
		Signer: c.signers[i], Verifier: c.verif, Head: c.heads[i], Genesis: c.genesis.Hash(),
		Records: c.records[i], ViewChangeTicks: timeoutTicks, EmptyBlockTicks: c.emptyBlockTicks,
		Checkpoint: c.lastCheckpoint(i),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.reps[i] = r
	c.down[i] = false
	c.flush(i)
}

// lastCheckpoint is the header replica i committed at the highest
// checkpoint height, as a node reads it from its store; nil below the first.
func (c *cluster) lastCheckpoint(i int) *ledger.Header {
	k := c.params.CheckpointInterval
	if h := uint64(len(c.logs[i])) / k * k; h > 0 {
		return &c.logs[i][h-1].Block.Header
	}
	return nil
}

// flush handles replica i's Ready: persist, queue messages, apply commits.
func (c *cluster) flush(i int) {
	r := c.reps[i]
	for r.HasReady() {
		rd := r.Ready()
		c.records[i] = append(c.records[i], rd.Persist...)
		for _, o := range rd.Messages {
			outs := []pbft.Outbound{o}
			if f := c.outgoing[i]; f != nil {
				outs = f(o)
			}
			for _, o := range outs {
				c.enqueue(i, o)
			}
		}
		for _, cb := range rd.Committed {
			if _, diff, err := c.chains[i].Commit(cb.Block.Hash()); err != nil {
				c.t.Fatalf("replica %d: commit %d: %v", i, cb.Block.Header.Height, err)
			} else {
				c.states[i].Apply(diff)
			}
			c.heads[i] = cb.Block.Header
			c.logs[i] = append(c.logs[i], cb)
		}
		c.events[i] = append(c.events[i], rd.Events...)
		for _, e := range rd.Events {
			if _, ok := e.(pbft.EventCatchUp); ok && !c.manualCatchUp {
				c.catchUps = append(c.catchUps, i)
			}
		}
		r.Advance()
	}
}

func (c *cluster) enqueue(from int, o pbft.Outbound) {
	for to := range c.n {
		if to != from && (o.To == pbft.Broadcast || o.To == to) {
			c.queue = append(c.queue, envelope{from, to, o.Msg})
			c.sent++
		}
	}
}

// serveCatchUps hands lagging replicas the blocks of the longest log.
func (c *cluster) serveCatchUps() {
	for len(c.catchUps) > 0 {
		i := c.catchUps[0]
		c.catchUps = c.catchUps[1:]
		best := 0
		for j := range c.n {
			if len(c.logs[j]) > len(c.logs[best]) {
				best = j
			}
		}
		if c.down[i] {
			continue
		}
		for _, cb := range c.logs[best][len(c.logs[i]):] {
			if c.reps[i].DeliverCommitted(cb.Block, cb.Certificate) != nil {
				break
			}
			c.flush(i)
		}
	}
}

// deliver delivers queued messages, including those they cause, until
// the queue is empty.
func (c *cluster) deliver() {
	defer c.serveCatchUps()
	for len(c.queue) > 0 {
		e := c.queue[0]
		c.queue = c.queue[1:]
		if c.down[e.to] || c.down[e.from] || (c.drop != nil && c.drop(e)) {
			continue
		}
		_ = c.reps[e.to].Step(e.m)
		c.flush(e.to)
	}
}

// tick ticks every live replica once and delivers everything.
func (c *cluster) tick() {
	c.now += 10
	for i, r := range c.reps {
		if !c.down[i] && !c.paused[i] {
			r.Tick(c.genesis.Header.Timestamp + c.now)
			c.flush(i)
		}
	}
	c.deliver()
}

// tickOne ticks replica i alone and delivers everything: the primary
// proposes one height per tick, so a test can pace proposals exactly.
func (c *cluster) tickOne(i int) {
	c.now += 10
	c.reps[i].Tick(c.genesis.Header.Timestamp + c.now)
	c.flush(i)
	c.deliver()
}

// tickUntil ticks until cond holds, failing after limit ticks.
func (c *cluster) tickUntil(limit int, cond func() bool) {
	c.t.Helper()
	for range limit {
		if cond() {
			return
		}
		c.tick()
	}
	if !cond() {
		c.t.Fatalf("condition not reached after %d ticks", limit)
	}
}

func (c *cluster) committedAt(i int, h uint64) *pbft.CommittedBlock {
	if h == 0 || uint64(len(c.logs[i])) < h {
		return nil
	}
	return &c.logs[i][h-1]
}

func (c *cluster) allCommitted(h uint64, ids ...int) func() bool {
	return func() bool {
		for _, i := range ids {
			if uint64(len(c.logs[i])) < h {
				return false
			}
		}
		return true
	}
}

// resign re-signs m as replica i (a Byzantine replica signing what it likes).
func (c *cluster) resign(i int, m *pbft.Message) *pbft.Message {
	m.From = uint16(i)
	m.Signature = c.signers[i].Sign(m.SigningBytes())
	return m
}

func (c *cluster) crash(i int) {
	c.down[i] = true
	c.reps[i] = nil
}

func hasEvent[T pbft.Event](evs []pbft.Event, pred func(T) bool) bool {
	for _, e := range evs {
		if v, ok := e.(T); ok && pred(v) {
			return true
		}
	}
	return false
}
