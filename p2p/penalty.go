package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// penalties counts misbehaviour per peer (garbage consensus messages,
// hostile sync responses) and blocks a peer that reaches the threshold
// within the window. The table is bounded: when full, the entry touched
// longest ago is forgotten, a blocked peer's last (evictStalest).
type penalties struct {
	mu    sync.Mutex
	cfg   *Config
	table map[peer.ID]*penaltyEntry
}

type penaltyEntry struct {
	count        int
	windowStart  time.Time
	lastAt       time.Time
	blockedUntil time.Time
}

func newPenalties(cfg *Config) *penalties {
	return &penalties{cfg: cfg, table: make(map[peer.ID]*penaltyEntry)}
}

// blocked reports whether p is serving a block now.
func (t *penalties) blocked(p peer.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.table[p]
	return e != nil && t.cfg.Now().Before(e.blockedUntil)
}

// add counts one offence and reports whether it started a block.
func (t *penalties) add(p peer.ID) (count int, blockedNow bool) {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.table[p]
	if e == nil {
		if len(t.table) >= t.cfg.PenaltyPeersMax {
			t.evictStalest()
		}
		e = &penaltyEntry{windowStart: now}
		t.table[p] = e
	}
	e.lastAt = now
	if now.Before(e.blockedUntil) {
		return e.count, false
	}
	if now.Sub(e.windowStart) > t.cfg.PenaltyWindow {
		e.count, e.windowStart = 0, now
	}
	e.count++
	if e.count < t.cfg.PenaltyThreshold {
		return e.count, false
	}
	e.blockedUntil = now.Add(t.cfg.PenaltyBlockDuration)
	count = e.count
	e.count, e.windowStart = 0, now
	return count, true
}

// evictStalest forgets the entry touched longest ago among the peers not
// blocked now; when every peer in the table is blocked, the one whose
// block ends first. Forgetting a blocked peer lifts its block: a blocked
// peer offends no more (it is disconnected), so its entry is always the
// stalest, and offences of other peers would otherwise free it early.
func (t *penalties) evictStalest() {
	now := t.cfg.Now()
	var victim peer.ID
	var victimEntry *penaltyEntry
	for p, e := range t.table {
		if victimEntry == nil || evictsBefore(e, victimEntry, now) {
			victim, victimEntry = p, e
		}
	}
	delete(t.table, victim)
}

// evictsBefore reports whether a is forgotten before b: an unblocked
// entry before a blocked one; of two unblocked, the staler; of two
// blocked, the one whose block ends first.
func evictsBefore(a, b *penaltyEntry, now time.Time) bool {
	aBlocked, bBlocked := now.Before(a.blockedUntil), now.Before(b.blockedUntil)
	switch {
	case aBlocked != bBlocked:
		return !aBlocked
	case aBlocked:
		return a.blockedUntil.Before(b.blockedUntil)
	default:
		return a.lastAt.Before(b.lastAt)
	}
}

func (t *penalties) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.table)
}

// Penalize records that p sent something provably wrong (a consensus
// message with a bad signature, a sync response that breaks the protocol).
// After Config.PenaltyThreshold offences within Config.PenaltyWindow, p is
// disconnected and refused for Config.PenaltyBlockDuration.
func (n *Host) Penalize(p peer.ID, reason string) {
	n.stats.penalties.Add(1)
	count, blockedNow := n.pen.add(p)
	n.log.Debug("peer penalized", "peer", p, "reason", reason, "count", count)
	if !blockedNow {
		return
	}
	n.stats.peersBlocked.Add(1)
	n.log.Warn("peer blocked for misbehaviour", "peer", p, "reason", reason, "offences", count, "for", n.cfg.PenaltyBlockDuration)
	if err := n.h.Network().ClosePeer(p); err != nil {
		n.log.Debug("close blocked peer", "peer", p, "err", err)
	}
}

// Blocked reports whether p is currently blocked by Penalize.
func (n *Host) Blocked(p peer.ID) bool { return n.pen.blocked(p) }
