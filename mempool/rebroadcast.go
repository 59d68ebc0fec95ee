package mempool

import (
	"math"

	"github.com/synod-chain/synod/ledger"
)

// The rebroadcast list holds every pending tx ordered by when it was last
// handed out for gossip. The pool's clock moves only when the caller
// passes a time in, so a tx that arrives is linked unstamped (its caller
// gossips it at once, but the pool does not know when that is) and takes
// the time of the next ForRebroadcast call. Stamping it with the clock of
// the call before instead would make it due at the next call however
// recently it arrived: with calls every interval, every tx still pending
// at a call would be gossiped a second time by every node holding it.
// Unstamped txs are a suffix of the list, stamped txs are sorted by their
// time, so the txs due for gossip are a prefix of it.

// unstamped marks a tx that arrived since the last ForRebroadcast call.
const unstamped = math.MaxInt64

// link appends e to the rebroadcast list as gossiped at t (or unstamped).
func (m *Mempool) link(e *entry, t int64) {
	e.gossipedAt = t
	last := m.gossip.prev
	e.prev, e.next = last, &m.gossip
	last.next = e
	m.gossip.prev = e
}

// stamp gives the txs that arrived since the last call the time now,
// walking back from the tail over the unstamped suffix: O(stamped).
func (m *Mempool) stamp(now int64) {
	for e := m.gossip.prev; e != &m.gossip && e.gossipedAt == unstamped; e = e.prev {
		e.gossipedAt = now
	}
}

// ForRebroadcast returns up to Config.RebroadcastTxsMax pending txs that
// were not handed out for gossip since now-interval, oldest first, and
// records them as gossiped at now. now is a logical time of the caller's
// choosing (Unix milliseconds, ticks), never read from a clock here; a
// now earlier than one passed before counts as that one. A tx added
// between two calls counts as gossiped at the later call's now (the
// caller, RPC or the gossip topic, publishes it on arrival), so it is due
// one interval after the first call that sees it: between one interval
// and one interval plus the calls' spacing after it arrived. The caller
// must not modify the returned txs.
func (m *Mempool) ForRebroadcast(now, interval int64) []*ledger.Tx {
	m.mu.Lock()
	defer m.mu.Unlock()
	now = m.advance(now)
	m.stamp(now)
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
// Executable txs never expire here: they wait only for a block. Nor do
// the txs of a sender whose account could not be read after a block: which
// of them wait behind a gap is unknown until it is read again.
func (m *Mempool) ExpireQueued(now, lifetime int64) []*ledger.Tx {
	m.mu.Lock()
	defer m.mu.Unlock()
	now = m.advance(now)
	var expired []*ledger.Tx
	for _, q := range m.senders {
		if q.stale {
			continue
		}
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
