package mempool

import (
	"errors"
	"fmt"
	"sync"

	"github.com/synod-chain/synod/crypto"

	"github.com/synod-chain/synod/ledger"
)

// Add checks tx and, if it is valid against the committed state and the
// txs already pending, keeps it. The stateless checks (chain id, sizes,
// sender key, signature) run before the pool's lock is taken; the account
// is read before it too, and read again under it only if an Update slipped
// in between. Add keeps its own copy of tx.
//
// Rejections: ledger's stateless errors (ledger.CheckTx), ErrDuplicate,
// ledger.ErrTxNonceTooLow, ErrNonceTooFarAhead, ErrReplacementUnderpriced,
// ErrSenderFull (also for the sender's next nonce once its pending txs
// fill the NonceAheadMax window), ledger.ErrTxInsufficientFunds,
// ErrMempoolFull; or an error reading the account from the state. A full
// pool refuses a tx that replaces nothing and outbids no pending tail
// before checking its signature, so an overloaded node does not verify
// what it turns away; so does the sender's account refuse a used nonce, a
// nonce beyond the window and a cost above the balance
// (RefusedBeforeSignature).
func (m *Mempool) Add(tx *ledger.Tx) error {
	return m.AddBatch([]*ledger.Tx{tx})[0]
}

// AddBatch adds several txs as Add does, verifying their signatures in one
// batch (about twice as fast per signature as one by one) and skipping
// txs already pending or whose signatures the SigCache knows. It returns
// one error (or nil) per tx, in order. Txs of one sender should come in
// nonce order, or a later nonce may look like a gap.
func (m *Mempool) AddBatch(txs []*ledger.Tx) []error {
	errs := make([]error, len(txs))
	entries := make([]*entry, len(txs))
	batch := batchVerifiers.Get().(*crypto.BatchVerifier)
	defer batchVerifiers.Put(batch) // Verify below leaves it empty
	var verifying []int
	for i, tx := range txs {
		if tx == nil {
			errs[i] = ErrNilTx
			continue
		}
		own := *tx
		own.Memo = append([]byte(nil), tx.Memo...)
		e := newEntry(&own)
		if m.pending(e.hash) {
			errs[i] = fmt.Errorf("%w: %s", ErrDuplicate, e.hash)
			continue
		}
		if err := ledger.CheckTxFields(m.cfg.ChainID, &own); err != nil {
			errs[i] = err
			continue
		}
		if err := m.surelyFull(e); err != nil {
			errs[i] = err
			continue
		}
		if m.cfg.SigCache != nil && m.cfg.SigCache.Contains(e.hash) {
			entries[i] = e
			continue
		}
		if err := m.surelyRefused(e); err != nil {
			errs[i] = err
			continue
		}
		entries[i] = e
		batch.Add(own.From, crypto.DomainTx, own.ChainID, own.SigningBytes(), own.Signature)
		verifying = append(verifying, i)
	}
	if _, valid := batch.Verify(); len(verifying) > 0 {
		for k, i := range verifying {
			if !valid[k] {
				errs[i], entries[i] = ledger.ErrTxBadSignature, nil
			} else if m.cfg.SigCache != nil {
				m.cfg.SigCache.Add(entries[i].hash)
			}
		}
	}
	for i, e := range entries {
		if e != nil {
			errs[i] = m.addChecked(e)
		}
	}
	return errs
}

// batchVerifiers recycles signature batches: every gossip message and
// every wallet group takes one, and a fresh one's buffers were a twelfth
// of a busy node's allocations.
var batchVerifiers = sync.Pool{New: func() any { return crypto.NewBatchVerifier(0) }}

// pending reports whether a tx with hash h is in the pool, so duplicates
// (gossip delivers many) cost no signature check.
func (m *Mempool) pending(h crypto.Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.byHash[h]
	return ok
}

// surelyFull returns the ErrMempoolFull e would be refused with whatever
// its signature, or nil: the pool is at a limit, e replaces none of its
// sender's txs, and no pending tail counts as paying less than e
// (eviction takes only tails with a lower evictFee). Checked before the
// signature, it keeps an overloaded node from spending a verification on
// every tx it must turn away. A nil answer decides nothing; addLocked
// judges again.
func (m *Mempool) surelyFull(e *entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.byHash) < m.cfg.TxsMax && m.bytes+e.size <= m.cfg.BytesMax {
		return nil
	}
	if q, ok := m.senders[e.from]; ok {
		if _, replaces := q.find(e.nonce); replaces {
			return nil
		}
	}
	if m.tails.len() > 0 && m.tails.items[0].evictFee() < e.tx.Fee {
		return nil
	}
	// What the pool holds, as addLocked says it: the limits are in the
	// config, and read as contents they mislead.
	return fmt.Errorf("%w: %d txs, %d bytes, and no pending tx pays less than fee %d", ErrMempoolFull, len(m.byHash), m.bytes, e.tx.Fee)
}

// RefusedBeforeSignature reports whether err is a refusal AddBatch may
// make before it checks the tx's signature: the pool is full
// (surelyFull), or the sender's account refuses the tx (surelyRefused).
// Such a tx's signature may be bad; a caller forwarding it must check.
func RefusedBeforeSignature(err error) bool {
	for _, e := range []error{ErrMempoolFull, ledger.ErrTxNonceTooLow, ErrNonceTooFarAhead, ErrSenderFull, ledger.ErrTxInsufficientFunds} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// surelyRefused returns the refusal the sender's committed account makes
// of e whatever its signature (accountRefusal), or nil. Checked before the
// signature, it keeps a peer replaying txs that can no longer (or cannot
// yet) run from costing a verification each: such txs are signed, so they
// are not provably invalid, and the peer is never penalized for them. A
// nil answer decides nothing (a failed read included); addLocked judges
// again.
func (m *Mempool) surelyRefused(e *entry) error {
	m.mu.Lock()
	state := m.state
	m.mu.Unlock()
	acct, err := state.GetAccount(e.from)
	if err != nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.accountRefusal(e, acct)
}

// accountRefusal is what acct, the sender's account, refuses e for
// whatever else is pending: a nonce it used, a nonce past the window
// ahead of it, a cost above its balance. Called with m.mu held.
func (m *Mempool) accountRefusal(e *entry, acct ledger.Account) error {
	tx := e.tx
	if tx.Nonce < acct.Nonce {
		return fmt.Errorf("%w: nonce %d, account nonce %d", ledger.ErrTxNonceTooLow, tx.Nonce, acct.Nonce)
	}
	if tx.Nonce-acct.Nonce > m.cfg.NonceAheadMax {
		// Every nonce below this one pending means it is the sender's
		// next (what PendingNonce tells its wallet), not a gap: the
		// sender has as many pending txs as the window allows, and the
		// wallet must wait for some to commit rather than fix its nonce.
		if q, known := m.senders[e.from]; known && q.nextFree(acct.Nonce) == tx.Nonce {
			return fmt.Errorf("%w: nonces %d to %d pending, at most %d ahead of the account nonce", ErrSenderFull, acct.Nonce, tx.Nonce-1, m.cfg.NonceAheadMax)
		}
		return fmt.Errorf("%w: nonce %d, account nonce %d, at most %d ahead", ErrNonceTooFarAhead, tx.Nonce, acct.Nonce, m.cfg.NonceAheadMax)
	}
	if e.cost > acct.Balance {
		return fmt.Errorf("%w: balance %d, this one costs %d", ledger.ErrTxInsufficientFunds, acct.Balance, e.cost)
	}
	return nil
}

// addChecked adds an entry whose stateless checks passed.
func (m *Mempool) addChecked(e *entry) error {
	addr := e.from
	m.mu.Lock()
	state, gen := m.state, m.stateGen
	m.mu.Unlock()
	acct, err := state.GetAccount(addr)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stateGen != gen {
		acct, err = m.state.GetAccount(addr)
	}
	if err != nil {
		return fmt.Errorf("mempool: read account %s: %w", addr, err)
	}
	return m.addLocked(e, acct)
}

func (m *Mempool) addLocked(e *entry, acct ledger.Account) error {
	tx := e.tx
	if _, dup := m.byHash[e.hash]; dup {
		return fmt.Errorf("%w: %s", ErrDuplicate, e.hash)
	}
	if err := m.accountRefusal(e, acct); err != nil {
		return err
	}
	q, known := m.senders[e.from]
	if known {
		m.refresh(q, acct) // the account read now is at least as new
	} else {
		q = newSenderQueue(e.from, acct)
	}
	i, found := q.find(tx.Nonce)
	var old *entry
	if found {
		old = q.txs[i]
		if err := m.checkReplacement(old, e); err != nil {
			return err
		}
	} else if len(q.txs) >= m.cfg.PerSenderTxsMax {
		return fmt.Errorf("%w: %d pending, at most %d", ErrSenderFull, len(q.txs), m.cfg.PerSenderTxsMax)
	}
	spent, needTxs, needBytes := q.costTotal, len(m.byHash)+1-m.cfg.TxsMax, m.bytes+e.size-m.cfg.BytesMax
	if old != nil {
		spent, needTxs, needBytes = spent-old.cost, needTxs-1, needBytes-old.size
	}
	if e.cost > acct.Balance || spent > acct.Balance-e.cost {
		return fmt.Errorf("%w: balance %d, pending txs cost %d, this one %d", ledger.ErrTxInsufficientFunds, acct.Balance, spent, e.cost)
	}
	// A tx behind a nonce gap bids nothing for room, as it would count as
	// paying nothing once in (evictFee): it takes only free room.
	bid, next := tx.Fee, q.nextFree(acct.Nonce)
	if tx.Nonce > next {
		bid = 0
	}
	if (needTxs > 0 || needBytes > 0) && !m.evict(q, bid, needTxs, needBytes) {
		if tx.Nonce > next {
			return fmt.Errorf("%w: %d txs, %d bytes, and nonce %d waits behind a gap at nonce %d, so it takes no pending tx's place", ErrMempoolFull, len(m.byHash), m.bytes, tx.Nonce, next)
		}
		return fmt.Errorf("%w: %d txs, %d bytes, and no pending tx pays less than fee %d", ErrMempoolFull, len(m.byHash), m.bytes, tx.Fee)
	}
	m.insert(q, i, e, found)
	m.fixSender(q)
	return nil
}

// checkReplacement decides whether e may take old's (sender, nonce). The
// same transfer under another signature has another hash, so it is caught
// here rather than by the hash: it is a duplicate, not a replacement.
func (m *Mempool) checkReplacement(old, e *entry) error {
	if sameTransfer(old.tx, e.tx) {
		return fmt.Errorf("%w: same transfer as %s", ErrDuplicate, old.hash)
	}
	least, ok := m.cfg.minReplacementFee(old.tx.Fee)
	if !ok || e.tx.Fee < least {
		return fmt.Errorf("%w: fee %d, pending tx %s pays %d, need at least %d (+%d%%)",
			ErrReplacementUnderpriced, e.tx.Fee, old.hash.Short(), old.tx.Fee, least, m.cfg.ReplaceFeeBumpPercent)
	}
	return nil
}

// evict makes room for needTxs txs and needBytes bytes by dropping the
// cheapest tails of other senders (tails behind a nonce gap first), each
// with an evictFee strictly less than fee. If it cannot make enough room
// it puts every dropped tx back and reports false, so a rejected tx never
// costs anyone their place.
func (m *Mempool) evict(own *senderQueue, fee uint64, needTxs, needBytes int) bool {
	// own's tail is never a victim: evicting below the new tx's nonce
	// would open a gap, and above it would let a sender evict itself.
	if own.tailIdx >= 0 {
		m.tails.remove(own.tailIdx)
	}
	var victims []*entry
	ok := true
	for needTxs > 0 || needBytes > 0 {
		if m.tails.len() == 0 || m.tails.items[0].evictFee() >= fee {
			ok = false
			break
		}
		q := m.tails.items[0]
		e := q.last()
		m.removeRange(q, len(q.txs)-1, len(q.txs))
		m.fixSender(q)
		victims = append(victims, e)
		needTxs, needBytes = needTxs-1, needBytes-e.size
	}
	if !ok {
		for j := len(victims) - 1; j >= 0; j-- {
			m.restoreTail(victims[j])
		}
	}
	if len(own.txs) > 0 {
		m.fixSender(own)
	}
	return ok
}

// restoreTail puts back an evicted tail with its place in the fee order
// (its prio.seq); for rebroadcast it counts as just arrived.
func (m *Mempool) restoreTail(e *entry) {
	q := e.q
	q.txs = append(q.txs, e)
	m.byHash[e.hash] = e
	m.bytes += e.size
	q.costTotal += e.cost
	m.link(e, unstamped)
	m.fixSender(q)
}
