package mempool

import (
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// staleRetrySendersMax bounds the stale senders one Update reads again,
// so a store that keeps failing costs each block a bounded number of
// reads, however many senders it left stale.
const staleRetrySendersMax = 256

// Update tells the pool that a block with the txs committed was applied,
// and that state is the committed state after it. It must be called from
// one goroutine (the node loop), in commit order, for every block.
//
// Only the senders of committed txs can have a lower balance or a higher
// nonce than before (recipients and the proposer only gain), so only their
// queues are rechecked, O(committed txs): txs below the new account nonce
// (those committed and any they displaced) are dropped, then the highest
// nonces until the balance covers the rest. Future nonces that are still
// covered stay queued. The SigCache forgets the committed txs. The
// accounts are read before the lock is taken.
//
// A sender whose account cannot be read (a transient store error) loses
// only its txs at or below the highest nonce the block committed for it
// (committed, or displaced by another tx), which can never run again. Its other txs, which wallets may have been told are accepted,
// stay pending but stale: not reaped, not expired, and not used to answer
// PendingNonce, until its account is read again, by a later Update (each one
// retries up to staleRetrySendersMax stale senders) or by Add.
// A nil state keeps the previous one.
func (m *Mempool) Update(committed []*ledger.Tx, state ledger.StateReader) {
	m.mu.Lock()
	if state == nil {
		state = m.state
	}
	retry := m.staleSenders(staleRetrySendersMax)
	m.mu.Unlock()
	accounts, unread := readSenders(committed, retry, state)

	if m.cfg.SigCache != nil {
		m.cfg.SigCache.Forget(committed)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = state
	m.stateGen++
	for addr, acct := range accounts {
		if q, ok := m.senders[addr]; ok {
			m.refresh(q, acct)
		}
	}
	for addr, top := range unread {
		if q, ok := m.senders[addr]; ok {
			m.markStale(q, top)
		}
	}
}

// readSenders reads from state the accounts of the committed txs' senders
// and of the senders in retry. It returns those it read, and for each
// sender of a committed tx whose read failed, the highest nonce it
// committed.
func readSenders(committed []*ledger.Tx, retry []crypto.Address, state ledger.StateReader) (map[crypto.Address]ledger.Account, map[crypto.Address]uint64) {
	accounts := make(map[crypto.Address]ledger.Account, len(committed)+len(retry))
	unread := make(map[crypto.Address]uint64)
	failed := make(map[crypto.Address]bool)
	for _, tx := range committed {
		if tx == nil {
			continue
		}
		addr := tx.Sender()
		if _, ok := accounts[addr]; ok {
			continue
		}
		if failed[addr] {
			unread[addr] = max(unread[addr], tx.Nonce)
			continue
		}
		acct, err := state.GetAccount(addr)
		if err != nil {
			failed[addr] = true
			unread[addr] = tx.Nonce
			continue
		}
		accounts[addr] = acct
	}
	for _, addr := range retry {
		if _, ok := accounts[addr]; ok || failed[addr] {
			continue
		}
		// A failed retry changes nothing: the sender stays stale.
		if acct, err := state.GetAccount(addr); err == nil {
			accounts[addr] = acct
		}
	}
	return accounts, unread
}

// staleSenders returns up to n stale senders, to read again. Past n they
// are picked in map order, which differs from call to call; while the
// store answers, each Update clears every one it picks, so all are read
// within len(m.stale)/n Updates.
func (m *Mempool) staleSenders(n int) []crypto.Address {
	out := make([]crypto.Address, 0, min(n, len(m.stale)))
	for addr := range m.stale {
		if len(out) == n {
			break
		}
		out = append(out, addr)
	}
	return out
}

// markStale records that q's account could not be read after a block in
// which its sender committed nonces up to top. Those txs, committed or
// displaced, are dropped: a used nonce never runs again. The rest stay,
// against the account read before, which their nonces and costs still
// fit; q leaves the ready heap until refresh.
func (m *Mempool) markStale(q *senderQueue, top uint64) {
	used, found := q.find(top)
	if found {
		used++
	}
	m.removeRange(q, 0, used)
	q.stale = true
	m.stale[q.addr] = q
	m.fixSender(q)
}
