package mempool

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// The fixtures below are shared by the directed, property, concurrency,
// fuzz and benchmark tests. Keys come from fixed seeds, so every run and
// every failing rapid seed replays exactly.

const testChain = "synod-test"

var (
	testKeysMu sync.Mutex
	testKeys   = map[int]crypto.PrivateKey{}
)

// testKey returns the i-th deterministic key (seed = "mempool-fixture" || i).
func testKey(i int) crypto.PrivateKey {
	testKeysMu.Lock()
	defer testKeysMu.Unlock()
	if k, ok := testKeys[i]; ok {
		return k
	}
	var seed [crypto.SeedBytes]byte
	copy(seed[:], "mempool-fixture")
	seed[28], seed[29], seed[30], seed[31] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	k, err := crypto.PrivateKeyFromSeed(seed[:])
	if err != nil {
		panic(err)
	}
	testKeys[i] = k
	return k
}

func testAddr(i int) crypto.Address { return testKey(i).Public().Address() }

// sink is a recipient no test sends from.
var sink = crypto.Address{0xee}

// signedTx returns a tx from key i's account to sink, signed for testChain.
func signedTx(i int, nonce, amount, fee uint64) *ledger.Tx {
	return signedTxTo(i, nonce, sink, amount, fee, nil)
}

func signedTxTo(i int, nonce uint64, to crypto.Address, amount, fee uint64, memo []byte) *ledger.Tx {
	tx := &ledger.Tx{ChainID: testChain, Nonce: nonce, To: to, Amount: amount, Fee: fee, Memo: memo}
	tx.Sign(testKey(i))
	return tx
}

// fataler is the part of testing.TB the fixtures need; *rapid.T has it too.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// testChainState is a committed chain tip: the head and the state after it.
type testChainState struct {
	head   ledger.Header
	state  *ledger.MemState
	params ledger.ConsensusParams
}

// newTestChain funds accounts 0..len(balances)-1 at genesis.
func newTestChain(balances ...uint64) *testChainState {
	g := &ledger.Genesis{ChainID: testChain, Consensus: ledger.DefaultConsensusParams()}
	for i, b := range balances {
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: testAddr(i), Amount: ledger.Amount(b)})
	}
	b, diff := ledger.GenesisBlock(g)
	st := ledger.NewMemState()
	st.Apply(diff)
	params := g.Consensus
	params.BlockTxsMax = ledger.BlockTxsMax
	params.BlockBytesMax = ledger.BlockBytesMax
	return &testChainState{head: b.Header, state: st, params: params}
}

// build makes the next block from candidates on the tip, without
// committing it.
func (c *testChainState) build(tb fataler, candidates []*ledger.Tx) (*ledger.Block, *ledger.StateDiff) {
	tb.Helper()
	b, diff, err := ledger.BuildBlock(ledger.BlockTemplate{
		ChainID: testChain, Params: c.params, Parent: &c.head,
		View: c.head.Height + 1, Proposer: crypto.Address{0xbb}, Timestamp: c.head.Timestamp + 1,
	}, c.state, candidates)
	if err != nil {
		tb.Fatalf("BuildBlock: %v", err)
	}
	return b, diff
}

// commit builds a block from candidates, applies it and returns its txs.
func (c *testChainState) commit(tb fataler, candidates ...*ledger.Tx) []*ledger.Tx {
	tb.Helper()
	b, diff := c.build(tb, candidates)
	c.state.Apply(diff)
	c.head = b.Header
	return b.Txs
}

// frozen returns an immutable copy of the tip's state, for tests where
// other goroutines read the state while the chain moves on.
func (c *testChainState) frozen() ledger.StateReader {
	return frozenState{accounts: c.state.Accounts(), hash: c.state.StateHash()}
}

type frozenState struct {
	accounts map[crypto.Address]ledger.Account
	hash     ledger.LtHash
}

func (f frozenState) GetAccount(a crypto.Address) (ledger.Account, error) { return f.accounts[a], nil }
func (f frozenState) StateHash() ledger.LtHash                            { return f.hash }

// failingState fails every read.
type failingState struct{}

var errDisk = errors.New("disk on fire")

func (failingState) GetAccount(crypto.Address) (ledger.Account, error) {
	return ledger.Account{}, errDisk
}
func (failingState) StateHash() ledger.LtHash { return ledger.LtHash{} }

// testConfig is a roomy config tests narrow down.
func testConfig() Config {
	cfg := DefaultConfig(testChain)
	cfg.TxsMax = 1000
	cfg.BytesMax = 1 << 20
	cfg.PerSenderTxsMax = 16
	cfg.NonceAheadMax = 16
	return cfg
}

func newPool(tb testing.TB, cfg Config, state ledger.StateReader) *Mempool {
	tb.Helper()
	m, err := New(cfg, state)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return m
}

func mustAdd(tb testing.TB, m *Mempool, txs ...*ledger.Tx) {
	tb.Helper()
	for _, tx := range txs {
		if err := m.Add(tx); err != nil {
			tb.Fatalf("Add nonce %d fee %d: %v", tx.Nonce, tx.Fee, err)
		}
		if err := m.checkInvariants(); err != nil {
			tb.Fatalf("after Add: %v", err)
		}
	}
}

func hashes(txs []*ledger.Tx) []crypto.Hash {
	out := make([]crypto.Hash, len(txs))
	for i, tx := range txs {
		out[i] = tx.Hash()
	}
	return out
}

// checkInvariants checks every structural invariant of the pool: totals,
// per-sender order, windows and funding, both heaps and the rebroadcast
// list. Tests call it after every operation.
func (m *Mempool) checkInvariants() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	count, size := 0, 0
	seen := make(map[*entry]bool)
	for addr, q := range m.senders {
		if err := m.checkQueue(addr, q, seen); err != nil {
			return err
		}
		count += len(q.txs)
		for _, e := range q.txs {
			size += e.size
		}
	}
	switch {
	case count != len(m.byHash) || size != m.bytes:
		return fmt.Errorf("totals: %d txs, %d bytes in queues; pool says %d, %d", count, size, len(m.byHash), m.bytes)
	case count > m.cfg.TxsMax || size > m.cfg.BytesMax:
		return fmt.Errorf("limits: %d txs, %d bytes over %d, %d", count, size, m.cfg.TxsMax, m.cfg.BytesMax)
	case m.tails.len() != len(m.senders):
		return fmt.Errorf("eviction heap has %d queues, %d senders", m.tails.len(), len(m.senders))
	}
	for addr, q := range m.stale {
		if m.senders[addr] != q || !q.stale {
			return fmt.Errorf("stale sender %s: not pending or not marked", addr)
		}
	}
	if err := checkHeap(&m.ready, func(q *senderQueue) int { return q.readyIdx }); err != nil {
		return fmt.Errorf("ready heap: %w", err)
	}
	if err := checkHeap(&m.tails, func(q *senderQueue) int { return q.tailIdx }); err != nil {
		return fmt.Errorf("eviction heap: %w", err)
	}
	return m.checkGossipList(seen)
}

func (m *Mempool) checkQueue(addr crypto.Address, q *senderQueue, seen map[*entry]bool) error {
	if q.addr != addr || len(q.txs) == 0 || len(q.txs) > m.cfg.PerSenderTxsMax {
		return fmt.Errorf("sender %s: %d txs (max %d) or wrong address", addr, len(q.txs), m.cfg.PerSenderTxsMax)
	}
	var total uint64
	for i, e := range q.txs {
		if e.q != q || e.from != addr || m.byHash[e.hash] != e {
			return fmt.Errorf("sender %s: entry %d not indexed", addr, i)
		}
		if i > 0 && q.txs[i-1].tx.Nonce >= e.tx.Nonce {
			return fmt.Errorf("sender %s: nonces not ascending at %d", addr, i)
		}
		if e.tx.Nonce < q.acct.Nonce || e.tx.Nonce-q.acct.Nonce > m.cfg.NonceAheadMax {
			return fmt.Errorf("sender %s: nonce %d outside window of %d", addr, e.tx.Nonce, q.acct.Nonce)
		}
		total += e.cost
		seen[e] = true
	}
	if total != q.costTotal || total > q.acct.Balance {
		return fmt.Errorf("sender %s: cost %d, recorded %d, balance %d", addr, total, q.costTotal, q.acct.Balance)
	}
	if q.stale != (m.stale[addr] == q) {
		return fmt.Errorf("sender %s: stale %v, listed %v", addr, q.stale, m.stale[addr] == q)
	}
	if q.ready() != (q.readyIdx >= 0) {
		return fmt.Errorf("sender %s: ready %v, in ready heap at %d", addr, q.ready(), q.readyIdx)
	}
	return nil
}

func checkHeap(h *heapOf[*senderQueue], index func(*senderQueue) int) error {
	for i, q := range h.items {
		if index(q) != i {
			return fmt.Errorf("item %d records index %d", i, index(q))
		}
		if i > 0 && h.first(q, h.items[(i-1)/2]) {
			return fmt.Errorf("item %d comes before its parent", i)
		}
	}
	return nil
}

func (m *Mempool) checkGossipList(seen map[*entry]bool) error {
	n := 0
	last := int64(-1 << 63)
	// Stamped entries in time order, none after the clock, then the
	// unstamped ones (unstamped sorts after every time).
	for e := m.gossip.next; e != &m.gossip; e = e.next {
		if !seen[e] || e.next.prev != e || e.gossipedAt < last || (e.gossipedAt > m.clock && e.gossipedAt != unstamped) {
			return fmt.Errorf("rebroadcast list: entry %d out of place", n)
		}
		last = e.gossipedAt
		n++
		if n > len(seen) {
			return errors.New("rebroadcast list: longer than the pool")
		}
	}
	if n != len(seen) {
		return fmt.Errorf("rebroadcast list: %d entries, pool has %d", n, len(seen))
	}
	return nil
}

// snapshotPending maps each pending hash to its tx.
func snapshotPending(m *Mempool) map[crypto.Hash]*ledger.Tx {
	out := make(map[crypto.Hash]*ledger.Tx)
	for _, tx := range m.Pending() {
		out[tx.Hash()] = tx
	}
	return out
}
