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
// nonce than before (recipients and the proposer only gain), and only
// those with txs here have anything to recheck, so only their accounts
// are read, O(committed txs): txs below the new account nonce (those
// committed and any they displaced) are dropped, then the highest nonces
// until the balance covers the rest. Future nonces that are still covered
// stay queued. A block's other senders cost no read: in a catch-up, with
// the pool empty, that was a read per tx on the loop's path. The SigCache
// forgets the committed txs. The accounts are read before the lock is
// taken.
//
// A sender whose account cannot be read (a transient store error) loses
// only its txs at or below the highest nonce the block committed for it
// (committed, or displaced by another tx), which can never run again. Its
// other txs, which wallets may have been told are accepted, stay pending
// but stale: not reaped, not expired, and not used to answer
// PendingNonce, until its account is read again, by a later Update (each
// one retries up to staleRetrySendersMax stale senders) or by Add. A
// sender whose first tx got in while the accounts were being read (its
// account read against the state before this block) is treated the same
// way, as unread.
// A nil state keeps the previous one.
func (m *Mempool) Update(committed []*ledger.Tx, state ledger.StateReader) {
	used := usedNonces(committed)
	m.mu.Lock()
	if state == nil {
		state = m.state
	}
	read := m.staleSenders(staleRetrySendersMax)
	for addr := range used {
		if _, ok := m.senders[addr]; ok {
			read = append(read, addr)
		}
	}
	m.mu.Unlock()
	accounts := readAccounts(read, state)

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
	for addr, top := range used {
		if _, ok := accounts[addr]; ok {
			continue
		}
		if q, ok := m.senders[addr]; ok {
			m.markStale(q, top)
		}
	}
}

// usedNonces maps each sender of the committed txs to the highest nonce
// it committed.
func usedNonces(committed []*ledger.Tx) map[crypto.Address]uint64 {
	used := make(map[crypto.Address]uint64, len(committed))
	for _, tx := range committed {
		if tx == nil {
			continue
		}
		addr := tx.Sender()
		if top, ok := used[addr]; !ok || tx.Nonce > top {
			used[addr] = tx.Nonce
		}
	}
	return used
}

// readAccounts reads the accounts of addrs from state, skipping those it
// cannot read.
func readAccounts(addrs []crypto.Address, state ledger.StateReader) map[crypto.Address]ledger.Account {
	accounts := make(map[crypto.Address]ledger.Account, len(addrs))
	for _, addr := range addrs {
		if _, ok := accounts[addr]; ok {
			continue
		}
		if acct, err := state.GetAccount(addr); err == nil {
			accounts[addr] = acct
		}
	}
	return accounts
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
