package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Limits of one run.
const (
	// LivenessBudgetMs: after GST, the correct replicas must reach their
	// target within this much simulated time or the run fails.
	LivenessBudgetMs = 60_000
	// syncBlocksMax bounds the blocks one catch-up answer carries.
	syncBlocksMax = 64
	chainID       = "synod-sim"
)

// Stats counts what happened in one or more runs.
type Stats struct {
	Scenarios      int
	Heights        uint64 // heights committed (by the slowest correct replica)
	ViewChanges    uint64 // views installed beyond view 0 (highest at a correct replica)
	WithViewChange int    // scenarios that went through at least one view change
	CrashRestarts  int
	Twins          int
	Dropped        uint64
	Delivered      uint64
	Evidence       uint64
	Txs            int
}

// Add accumulates o into s.
func (s *Stats) Add(o Stats) {
	s.Scenarios += o.Scenarios
	s.Heights += o.Heights
	s.ViewChanges += o.ViewChanges
	s.WithViewChange += o.WithViewChange
	s.CrashRestarts += o.CrashRestarts
	s.Twins += o.Twins
	s.Dropped += o.Dropped
	s.Delivered += o.Delivered
	s.Evidence += o.Evidence
	s.Txs += o.Txs
}

// ErrSafety and ErrLiveness wrap invariant violations.
var (
	ErrSafety   = errors.New("sim: SAFETY violation")
	ErrLiveness = errors.New("sim: LIVENESS violation")
)

// Network is one deterministic simulation: a seeded *rand.Rand, a clock in
// milliseconds and a queue of deliveries; single-threaded.
type Network struct {
	sc          Scenario
	rng         *rand.Rand
	now         int64
	nodes       []*Node
	vals        *ledger.ValidatorSet
	params      ledger.ConsensusParams
	chainID     string
	genesisHash crypto.Hash
	genesisTime int64
	supply      uint64
	secrets     []crypto.Hash
	verifier    pbft.Verifier
	queue       [][]delivery // ring of buckets indexed by time
	canonical   []crypto.Hash
	txs         []*ledger.Tx
	txTimes     []int64
	txCommitted map[crypto.Hash]bool
	gstTarget   uint64
	maxView     uint64
	// votes and commitViews hold what correct validators signed, for
	// the promise checker (promises.go): the digest of each vote, and per
	// validator and height the highest view it sent a COMMIT in.
	votes       map[voteKey]crypto.Hash
	commitViews map[uint16]map[uint64]uint64
	stats       Stats
	err         error
}

type delivery struct {
	to     int
	msg    *pbft.Message
	blocks []pbft.CommittedBlock
}

// NewNetwork builds the nodes of sc from a genesis that funds the test
// accounts.
func NewNetwork(sc Scenario) (*Network, error) {
	if err := sc.check(); err != nil {
		return nil, err
	}
	w := &Network{sc: sc, rng: rand.New(rand.NewPCG(sc.Seed, 0xc0ffee)), chainID: chainID, txCommitted: make(map[crypto.Hash]bool),
		votes: make(map[voteKey]crypto.Hash), commitViews: make(map[uint16]map[uint64]uint64)}
	g, err := simGenesis(sc.N)
	if err != nil {
		return nil, err
	}
	w.vals, _ = g.ValidatorSet()
	w.params, w.supply, w.genesisTime = g.Consensus, g.TotalSupply(), g.GenesisTime.UnixMilli()
	block0, diff := ledger.GenesisBlock(g)
	w.genesisHash = block0.Hash()
	w.secrets = make([]crypto.Hash, sc.N)
	for i := range w.secrets {
		w.secrets[i] = crypto.Sum256(fmt.Appendf(nil, "synod-sim-secret/%d", i))
	}
	w.verifier = pbft.KeyedHashVerifier{Secrets: w.secrets}
	w.queue = make([][]delivery, max(sc.MaxDelayMs, sc.DeltaMs)+2)
	for i := 0; i < sc.N+len(sc.Twins); i++ {
		id := uint16(i)
		if i >= sc.N {
			id = sc.Twins[i-sc.N]
		}
		n := &Node{Index: i, ID: id, net: w, state: ledger.NewMemState(), head: block0.Header}
		n.state.Apply(diff)
		_, byz := sc.Byzantine[id]
		n.Faulty = byz || slices.Contains(sc.Twins, id)
		if byz {
			n.Behaviour = behaviourOf(sc.Byzantine[id])
		}
		if err := n.start(); err != nil {
			return nil, err
		}
		w.nodes = append(w.nodes, n)
	}
	w.stats.Twins = boolInt(len(sc.Twins) > 0)
	w.planTxs()
	return w, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// planTxs picks which pre-signed transfers are submitted and when: each
// account's in nonce order, all before GST+200ms.
func (w *Network) planTxs() {
	next := make([]int, len(simAccounts))
	for range w.sc.Txs {
		a := w.rng.IntN(len(simAccounts))
		if next[a] >= simTxsPerAccount {
			continue
		}
		w.txs = append(w.txs, simTxs[a][next[a]])
		next[a]++
		w.txTimes = append(w.txTimes, int64(w.rng.IntN(int(w.sc.GST)+200)))
	}
	slices.Sort(w.txTimes)
	w.stats.Txs = len(w.txs)
}

// Run runs the scenario to its end: the liveness target reached, or the
// first invariant violation.
func (w *Network) Run() (st Stats, err error) {
	defer func() {
		// The engine panics when one of its own invariants breaks (it
		// will not, for one, commit a block that is not a child of its
		// head): a safety finding like the checkers' ones, returned as
		// an error so that the run's seed and replay command are printed.
		if p := recover(); p != nil {
			st, err = w.stats, fmt.Errorf("%w: at %dms: panic: %v\n%s", ErrSafety, w.now, p, debug.Stack())
		}
	}()
	w.stats.Scenarios = 1
	for w.now = 0; ; w.now++ {
		w.step()
		if w.err != nil {
			return w.stats, w.err
		}
		if w.now == w.sc.GST {
			w.gstTarget = w.maxCorrectCommitted() + uint64(w.sc.Heights)
		}
		if w.now > w.sc.GST && w.done() {
			w.stats.Heights = w.minCorrectCommitted()
			w.stats.ViewChanges = w.maxView
			w.stats.WithViewChange = boolInt(w.maxView > 0)
			return w.stats, nil
		}
		if w.now > w.sc.GST+LivenessBudgetMs {
			return w.stats, fmt.Errorf("%w: after %dms past GST correct replicas committed %v, target %d, txs %d/%d committed\n%s",
				ErrLiveness, LivenessBudgetMs, w.committedHeights(), w.gstTarget, len(w.txCommitted), len(w.txs), w.status())
		}
	}
}

// stormDeliveriesPerMs times the nodes squared bounds the messages due in
// one simulated millisecond; a normal run stays far below it.
const stormDeliveriesPerMs = 1000

// step is one millisecond: deliveries due, crashes and restarts, client
// txs, then the ticks of the replicas whose turn it is.
func (w *Network) step() {
	bucket := &w.queue[w.now%int64(len(w.queue))]
	due := *bucket
	*bucket = nil
	if limit := stormDeliveriesPerMs * len(w.nodes) * len(w.nodes); len(due) > limit {
		// Correct replicas send a bounded number of messages per tick and
		// per message received; traffic that grows without bound (one
		// message answered by more than one, round after round) would
		// otherwise run the simulator out of memory instead of failing.
		w.fail(fmt.Errorf("%w: message storm: %d messages due in one millisecond, over %d", ErrLiveness, len(due), limit))
		return
	}
	for _, d := range due {
		w.deliver(d)
	}
	w.crashes()
	for len(w.txTimes) > 0 && w.txTimes[0] <= w.now {
		w.submit(w.txs[len(w.txs)-len(w.txTimes)])
		w.txTimes = w.txTimes[1:]
	}
	for _, n := range w.nodes {
		if n.up && (w.now+int64(n.Index))%TickMs == 0 {
			n.replica.Tick(w.genesisTime + w.now)
			n.handleReady()
		}
	}
}

func (w *Network) deliver(d delivery) {
	n := w.nodes[d.to]
	if !n.up {
		w.stats.Dropped++
		return
	}
	w.stats.Delivered++
	if d.msg != nil {
		switch n.Behaviour.(type) {
		case Replayer:
			n.remember(d.msg)
		case ForkParent:
			n.rememberProposal(d.msg)
		}
		_ = n.replica.Step(d.msg) // refused messages are the adversary's problem
	}
	for _, c := range d.blocks {
		if err := n.replica.DeliverCommitted(c.Block, c.Certificate); err != nil {
			break
		}
	}
	n.handleReady()
}

func (w *Network) crashes() {
	for _, c := range w.sc.Crashes {
		n := w.nodes[c.Node]
		if c.At == w.now && n.up {
			if c.MidReady {
				n.crashAfterPersist = true
			} else {
				n.crash()
			}
		}
		if c.Restart == w.now || (c.Restart <= c.At && c.At == w.now) {
			if n.up && n.crashAfterPersist {
				n.crash() // it never produced another Ready
			}
			if !n.up {
				if err := n.start(); err != nil {
					w.fail(err)
				}
				n.handleReady()
			}
		}
	}
}

// submit hands a client tx to every node, as gossip would (a Byzantine
// primary that keeps its view keeps building blocks with the honest code).
func (w *Network) submit(tx *ledger.Tx) {
	for _, n := range w.nodes {
		n.mempool = append(n.mempool, tx)
	}
}

// send puts one outbound message on the wire to every node it addresses.
func (w *Network) send(from *Node, o pbft.Outbound) {
	if err := w.checkPromises(from, o.Msg); err != nil {
		w.fail(err)
	}
	for _, to := range w.nodes {
		if to.ID == from.ID || (o.To != pbft.Broadcast && int(to.ID) != o.To) {
			continue
		}
		w.schedule(from.Index, delivery{to: to.Index, msg: o.Msg})
	}
}

// schedule applies the network model: partitions, loss and duplication
// before GST, a delay bounded by DeltaMs after.
func (w *Network) schedule(from int, d delivery) {
	if w.now < w.sc.GST {
		if w.partitioned(from, d.to) || w.rng.IntN(100) < w.sc.LossPct {
			w.stats.Dropped++
			return
		}
		if w.rng.IntN(100) < w.sc.DupPct {
			w.enqueue(d, 1+w.rng.Int64N(w.sc.MaxDelayMs))
		}
		w.enqueue(d, 1+w.rng.Int64N(w.sc.MaxDelayMs))
		return
	}
	w.enqueue(d, 1+w.rng.Int64N(w.sc.DeltaMs))
}

func (w *Network) enqueue(d delivery, delay int64) {
	i := (w.now + delay) % int64(len(w.queue))
	w.queue[i] = append(w.queue[i], d)
}

func (w *Network) partitioned(a, b int) bool {
	for _, p := range w.sc.Partitions {
		if w.now < p.Start || w.now >= p.End {
			continue
		}
		ga, gb := groupOf(p, a), groupOf(p, b)
		if ga < 0 || ga != gb {
			return true
		}
	}
	return false
}

func groupOf(p Partition, node int) int {
	for i, g := range p.Groups {
		if slices.Contains(g, node) {
			return i
		}
	}
	return -1
}

func (w *Network) onEvent(n *Node, e pbft.Event) {
	switch e := e.(type) {
	case pbft.EventViewChanged:
		if e.Active && !n.Faulty {
			w.maxView = max(w.maxView, e.View)
		}
	case pbft.EventEvidence:
		w.stats.Evidence++
	case pbft.EventCatchUp:
		w.serveCatchUp(n, e)
	case pbft.EventCheckpointStable:
	default:
		panic(fmt.Sprintf("sim: unknown event %T", e))
	}
}

// serveCatchUp plays the block sync protocol: a random correct peer that
// has the blocks answers with up to syncBlocksMax of them.
func (w *Network) serveCatchUp(n *Node, e pbft.EventCatchUp) {
	var servers []*Node
	for _, s := range w.nodes {
		if s.up && !s.Faulty && s != n && s.committed() >= e.FromHeight {
			servers = append(servers, s)
		}
	}
	if len(servers) == 0 {
		return
	}
	s := servers[w.rng.IntN(len(servers))]
	end := min(s.committed(), e.FromHeight+syncBlocksMax-1)
	blocks := slices.Clone(s.log[e.FromHeight-1 : end])
	w.schedule(s.Index, delivery{to: n.Index, blocks: blocks})
}

func (w *Network) fail(err error) {
	if w.err == nil {
		w.err = fmt.Errorf("at %dms: %w", w.now, err)
	}
}

// checkCommitted checks one block a node is about to apply: a valid
// quorum certificate for exactly this block, a child of the node's head,
// and, for a correct node, the same block every correct node committed at
// that height.
func (w *Network) checkCommitted(n *Node, c pbft.CommittedBlock) error {
	b, cert := c.Block, c.Certificate
	h := b.Header.Height
	if cert == nil || cert.Height != h || cert.BlockHash != b.Hash() {
		return fmt.Errorf("%w: node %d committed block %d without its certificate", ErrSafety, n.Index, h)
	}
	if err := pbft.VerifyCommitCertificate(cert, w.vals, w.verifier); err != nil {
		return fmt.Errorf("%w: node %d block %d: %w", ErrSafety, n.Index, h, err)
	}
	if h != n.head.Height+1 || b.Header.ParentHash != n.head.Hash() {
		return fmt.Errorf("%w: node %d block %d does not extend its chain at %d", ErrSafety, n.Index, h, n.head.Height)
	}
	if n.Faulty {
		return nil
	}
	for uint64(len(w.canonical)) < h {
		w.canonical = append(w.canonical, crypto.Hash{})
	}
	if prev := w.canonical[h-1]; prev.IsZero() {
		w.canonical[h-1] = b.Hash()
	} else if prev != b.Hash() {
		return fmt.Errorf("%w: correct nodes committed %s and %s at height %d (node %d)", ErrSafety, prev.Short(), b.Hash().Short(), h, n.Index)
	}
	return nil
}

// afterCommit checks conservation of balances and records committed txs.
func (w *Network) afterCommit(n *Node, c pbft.CommittedBlock) {
	if n.Faulty {
		return
	}
	var sum uint64
	for _, a := range n.state.Accounts() {
		sum += a.Balance
	}
	if sum != w.supply {
		w.fail(fmt.Errorf("%w: node %d holds %d coins after block %d, supply %d", ErrSafety, n.Index, sum, c.Block.Header.Height, w.supply))
	}
	for _, tx := range c.Block.Txs {
		w.txCommitted[tx.Hash()] = true
	}
}

func (w *Network) correct() []*Node {
	var out []*Node
	for _, n := range w.nodes {
		if !n.Faulty {
			out = append(out, n)
		}
	}
	return out
}

func (w *Network) maxCorrectCommitted() uint64 {
	var m uint64
	for _, n := range w.correct() {
		m = max(m, n.committed())
	}
	return m
}

func (w *Network) minCorrectCommitted() uint64 {
	m := ^uint64(0)
	for _, n := range w.correct() {
		m = min(m, n.committed())
	}
	return m
}

func (w *Network) committedHeights() []uint64 {
	var hs []uint64
	for _, n := range w.correct() {
		hs = append(hs, n.committed())
	}
	return hs
}

func (w *Network) done() bool {
	if w.sc.ExpectViolation {
		return w.now > w.sc.GST+2000
	}
	return w.minCorrectCommitted() >= w.gstTarget && len(w.txCommitted) == len(w.txs)
}

// Nodes returns the simulated nodes.
func (w *Network) Nodes() []*Node { return w.nodes }

// Replica returns node i's engine (nil while it is down).
func (w *Network) Replica(i int) *pbft.Replica { return w.nodes[i].replica }

// Log returns node i's committed blocks.
func (w *Network) Log(i int) []pbft.CommittedBlock { return w.nodes[i].log }

// RunScenario builds and runs one scenario.
func RunScenario(sc Scenario) (Stats, error) {
	w, err := NewNetwork(sc)
	if err != nil {
		return Stats{}, err
	}
	return w.Run()
}

func (w *Network) status() string {
	var b []byte
	for _, n := range w.nodes {
		if n.up {
			b = fmt.Appendf(b, "  node %d (faulty=%v): %s\n", n.Index, n.Faulty, n.replica.Status())
		} else {
			b = fmt.Appendf(b, "  node %d: down\n", n.Index)
		}
	}
	return string(b)
}
