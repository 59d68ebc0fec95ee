package mempool

import (
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

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
// accounts are read before the lock is taken. A
// sender whose account cannot be read loses its pending txs: they are
// dropped rather than reaped on a guess, and can be sent again (the store
// that failed the read will fail the node loudly elsewhere). A nil state
// keeps the previous one.
func (m *Mempool) Update(committed []*ledger.Tx, state ledger.StateReader) {
	m.mu.Lock()
	if state == nil {
		state = m.state
	}
	m.mu.Unlock()
	accounts := make(map[crypto.Address]ledger.Account, len(committed))
	unread := make(map[crypto.Address]bool)
	for _, tx := range committed {
		if tx == nil {
			continue
		}
		addr := tx.Sender()
		if _, ok := accounts[addr]; ok || unread[addr] {
			continue
		}
		acct, err := state.GetAccount(addr)
		if err != nil {
			unread[addr] = true
			continue
		}
		accounts[addr] = acct
	}

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
	for addr := range unread {
		if q, ok := m.senders[addr]; ok {
			m.removeRange(q, 0, len(q.txs))
			m.fixSender(q)
		}
	}
}
