package mempool

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Errors Add rejects a tx with, besides ledger's ErrTx* (the stateless
// checks, ErrTxNonceTooLow and ErrTxInsufficientFunds). Each names one
// reason, so the RPC layer can map it to a JSON-RPC code with errors.Is.
var (
	ErrNilTx                  = errors.New("mempool: nil tx")
	ErrDuplicate              = errors.New("mempool: tx already pending")
	ErrNonceTooFarAhead       = errors.New("mempool: nonce too far ahead of the account nonce")
	ErrReplacementUnderpriced = errors.New("mempool: replacement fee too low")
	ErrSenderFull             = errors.New("mempool: too many pending txs from this sender")
	ErrMempoolFull            = errors.New("mempool: full")
)

// Mempool is the set of pending txs. It is safe for concurrent use; see the
// package doc for the caller's duties.
type Mempool struct {
	cfg Config
	// minTxBytes is the smallest encoding of a tx on this chain.
	minTxBytes int

	mu sync.Mutex
	// state is the committed state as of the last Update; stateGen counts
	// Updates, so Add can tell whether an account it read before taking
	// the lock is still current.
	state    ledger.StateReader
	stateGen uint64
	senders  map[crypto.Address]*senderQueue
	// stale holds the queues whose account could not be read after a
	// block (senderQueue.stale), for Update to read again.
	stale  map[crypto.Address]*senderQueue
	byHash map[crypto.Hash]*entry
	bytes  int
	// ready holds the queues whose first tx is executable, by that tx's
	// priority; tails holds every non-empty queue, cheapest tail first.
	ready heapOf[*senderQueue]
	tails heapOf[*senderQueue]
	// gossip is the sentinel of the rebroadcast list; clock is the latest
	// logical time the caller has passed in.
	gossip entry
	clock  int64
	// clockStart is the first time the caller passed in (clockSet): txs
	// that arrived before it count as arriving then.
	clockStart int64
	clockSet   bool
	seq        uint64
}

// New returns an empty pool over the committed state.
func New(cfg Config, state ledger.StateReader) (*Mempool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if state == nil {
		return nil, fmt.Errorf("%w: nil state", ErrConfig)
	}
	m := &Mempool{
		cfg:        cfg,
		minTxBytes: len((&ledger.Tx{ChainID: cfg.ChainID}).Encode()),
		state:      state,
		senders:    make(map[crypto.Address]*senderQueue),
		stale:      make(map[crypto.Address]*senderQueue),
		byHash:     make(map[crypto.Hash]*entry),
		ready:      heapOf[*senderQueue]{first: readyFirst, setIndex: func(q *senderQueue, i int) { q.readyIdx = i }},
		tails:      heapOf[*senderQueue]{first: evictFirst, setIndex: func(q *senderQueue, i int) { q.tailIdx = i }},
	}
	m.gossip.prev, m.gossip.next = &m.gossip, &m.gossip
	return m, nil
}

// Config returns the pool's configuration.
func (m *Mempool) Config() Config { return m.cfg }

// Size returns the number of pending txs and the sum of their encoded
// sizes.
func (m *Mempool) Size() (txs, bytes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byHash), m.bytes
}

// Executable reports whether a pending tx could go into a block on the
// committed state: some sender's lowest pending nonce is its account
// nonce. Txs queued behind a nonce gap do not count, so a primary asking
// whether to propose does not keep proposing empty blocks for txs that
// cannot run until their gap is filled.
func (m *Mempool) Executable() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ready.len() > 0
}

// Get returns the pending tx with hash h. The caller must not modify it.
func (m *Mempool) Get(h crypto.Hash) (*ledger.Tx, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byHash[h]
	if !ok {
		return nil, false
	}
	return e.tx, true
}

// Pending returns every pending tx, executable or not, ordered by sender
// address and then nonce. The caller must not modify them.
func (m *Mempool) Pending() []*ledger.Tx {
	m.mu.Lock()
	queues := make([]*senderQueue, 0, len(m.senders))
	for _, q := range m.senders {
		queues = append(queues, q)
	}
	out := make([]*ledger.Tx, 0, len(m.byHash))
	slices.SortFunc(queues, func(a, b *senderQueue) int { return bytes.Compare(a.addr[:], b.addr[:]) })
	for _, q := range queues {
		for _, e := range q.txs {
			out = append(out, e.tx)
		}
	}
	m.mu.Unlock()
	return out
}

// PendingNonce is the nonce addr's next tx should use (for synod_getNonce
// with "pending"): its account nonce plus the run of consecutive pending
// nonces from there, or an error if the account cannot be read. A sender
// whose account the pool could not read after its last commit is read
// again here, not answered from the account read before.
func (m *Mempool) PendingNonce(addr crypto.Address) (uint64, error) {
	m.mu.Lock()
	if q, ok := m.senders[addr]; ok && !q.stale {
		n := q.acct.Nonce + uint64(q.executable())
		m.mu.Unlock()
		return n, nil
	}
	state := m.state
	m.mu.Unlock()
	acct, err := state.GetAccount(addr)
	if err != nil {
		return 0, fmt.Errorf("mempool: read account %s: %w", addr, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if q, ok := m.senders[addr]; ok {
		// The account read now is newer than a stale queue's; either way
		// the pending nonces from the account nonce on are taken.
		return q.nextFree(max(acct.Nonce, q.acct.Nonce)), nil
	}
	return acct.Nonce, nil
}

// insert puts e at position i of q, replacing the entry there if replace.
// The caller has checked every limit and calls fixSender afterwards.
func (m *Mempool) insert(q *senderQueue, i int, e *entry, replace bool) {
	if replace {
		m.unlink(q.txs[i])
		q.txs[i] = e
	} else {
		q.txs = slices.Insert(q.txs, i, e)
	}
	e.q = q
	e.addedAt = m.clock
	m.seq++
	e.prio.seq = m.seq
	m.link(e, unstamped)
	m.byHash[e.hash] = e
	m.bytes += e.size
	q.costTotal += e.cost
}

// unlink takes e out of the pool's indexes and totals, not out of q.txs.
func (m *Mempool) unlink(e *entry) {
	delete(m.byHash, e.hash)
	m.bytes -= e.size
	e.q.costTotal -= e.cost
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// removeRange drops q.txs[from:to].
func (m *Mempool) removeRange(q *senderQueue, from, to int) {
	for _, e := range q.txs[from:to] {
		m.unlink(e)
	}
	q.txs = slices.Delete(q.txs, from, to)
}

// fixSender puts q back in order in both heaps after any change to its
// txs or account, and forgets it once it is empty.
func (m *Mempool) fixSender(q *senderQueue) {
	if len(q.txs) == 0 {
		if q.readyIdx >= 0 {
			m.ready.remove(q.readyIdx)
		}
		if q.tailIdx >= 0 {
			m.tails.remove(q.tailIdx)
		}
		if m.senders[q.addr] == q {
			delete(m.senders, q.addr)
		}
		if m.stale[q.addr] == q {
			delete(m.stale, q.addr)
		}
		return
	}
	m.senders[q.addr] = q
	q.head, q.tail = q.txs[0].prio, q.last().prio
	// Nonces ascend from at least the account nonce, so the last tx is
	// behind a gap exactly when they are not all consecutive from it. A
	// stale queue's gaps are unknown (its account nonce is old): its tail
	// bids its fee, so a failed read does not make it the first evicted.
	q.tailQueued = !q.stale && q.last().nonce-q.acct.Nonce != uint64(len(q.txs)-1)
	switch {
	case q.ready() && q.readyIdx >= 0:
		m.ready.fix(q.readyIdx)
	case q.ready():
		m.ready.push(q)
	case q.readyIdx >= 0:
		m.ready.remove(q.readyIdx)
	}
	if q.tailIdx >= 0 {
		m.tails.fix(q.tailIdx)
	} else {
		m.tails.push(q)
	}
}

// refresh records acct, read from the current state, as q's account and
// drops what it invalidates: txs below the new nonce, then the highest
// nonces until the balance covers the rest (dropping from the top never
// opens a gap). q is no longer stale.
func (m *Mempool) refresh(q *senderQueue, acct ledger.Account) {
	q.acct = acct
	if q.stale {
		q.stale = false
		if m.stale[q.addr] == q {
			delete(m.stale, q.addr)
		}
	}
	low := 0
	for low < len(q.txs) && q.txs[low].nonce < acct.Nonce {
		low++
	}
	m.removeRange(q, 0, low)
	high := len(q.txs)
	for high > 0 && q.costTotal > acct.Balance {
		high--
		m.removeRange(q, high, high+1)
	}
	m.fixSender(q)
}
