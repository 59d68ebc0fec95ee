package mempool

import "github.com/synod-chain/synod/ledger"

// The rebroadcast list holds every pending tx ordered by when it was last
// handed out for gossip. The pool's clock only moves forward, and a tx is
// always (re)appended at the current clock, so the list stays sorted and
// the txs due for gossip are a prefix of it.

// link appends e to the rebroadcast list as gossiped at t.
func (m *Mempool) link(e *entry, t int64) {
	e.gossipedAt = t
	last := m.gossip.prev
	e.prev, e.next = last, &m.gossip
	last.next = e
	m.gossip.prev = e
}

// ForRebroadcast returns up to Config.RebroadcastTxsMax pending txs that
// were not handed out for gossip since now-interval, oldest first, and
// records them as gossiped at now. now is a logical time of the caller's
// choosing (Unix milliseconds, ticks), never read from a clock here; a
// now earlier than one passed before counts as that one. A tx added
// between two calls counts as gossiped at the earlier call's now, as the
// caller (RPC or the gossip topic) publishes it on arrival. The caller
// must not modify the returned txs.
func (m *Mempool) ForRebroadcast(now, interval int64) []*ledger.Tx {
	m.mu.Lock()
	defer m.mu.Unlock()
	now = m.advance(now)
	// Bounded by the pool's size too: with interval <= 0 a tx is due again
	// right after it is re-appended.
	limit := min(m.cfg.RebroadcastTxsMax, len(m.byHash))
	var out []*ledger.Tx
	for len(out) < limit {
		e := m.gossip.next
		if e == &m.gossip || now-e.gossipedAt < interval {
			break
		}
		e.prev.next, e.next.prev = e.next, e.prev
		m.link(e, now)
		out = append(out, e.tx)
	}
	return out
}

// advance moves the pool's logical clock to now (never back) and returns
// it. The first time it is set, it also marks when the pool started
// keeping time: a tx that arrived before counts as arriving then.
func (m *Mempool) advance(now int64) int64 {
	if !m.clockSet {
		m.clockSet, m.clockStart = true, now
	}
	m.clock = max(m.clock, now)
	return m.clock
}

// ExpireQueued drops the txs that have waited behind a nonce gap for at
// least lifetime (in the caller's logical time, as for ForRebroadcast)
// and returns them. A queued tx runs only once the sender's missing nonce
// arrives; one that never does would otherwise stay in every pool for
// good, holding its sender's slots and being re-gossiped every interval.
// Executable txs never expire here: they wait only for a block.
func (m *Mempool) ExpireQueued(now, lifetime int64) []*ledger.Tx {
	m.mu.Lock()
	defer m.mu.Unlock()
	now = m.advance(now)
	var expired []*ledger.Tx
	for _, q := range m.senders {
		run := q.executable()
		changed := false
		for i := len(q.txs) - 1; i >= run; i-- {
			if e := q.txs[i]; now-max(e.addedAt, m.clockStart) >= lifetime {
				expired = append(expired, e.tx)
				m.removeRange(q, i, i+1)
				changed = true
			}
		}
		if changed {
			m.fixSender(q)
		}
	}
	return expired
}
