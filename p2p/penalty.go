package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// penalties counts misbehaviour per peer (garbage consensus messages,
// hostile sync responses) and blocks a peer that reaches the threshold
// within the window. The table is bounded: when full, the entry touched
// longest ago is forgotten.
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

func (t *penalties) evictStalest() {
	var stalest peer.ID
	var at time.Time
	first := true
	for p, e := range t.table {
		if first || e.lastAt.Before(at) {
			stalest, at, first = p, e.lastAt, false
		}
	}
	delete(t.table, stalest)
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
