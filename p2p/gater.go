package p2p

import (
	"errors"
	"sync"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

var errGated = errors.New("peer is partitioned away or blocked")

// gater refuses connections to and from peers outside a partition's
// allowed set and peers blocked for misbehaviour. It decides by peer id,
// so it checks outbound dials before they start and inbound connections
// once the security handshake has authenticated the remote peer.
type gater struct {
	mu        sync.RWMutex
	partition map[peer.ID]bool // nil: no partition
	blocked   func(peer.ID) bool
}

var _ connmgr.ConnectionGater = (*gater)(nil)

func newGater() *gater { return &gater{} }

func (g *gater) setPartition(allowed []peer.ID) {
	var set map[peer.ID]bool
	if allowed != nil {
		set = make(map[peer.ID]bool, len(allowed))
		for _, p := range allowed {
			set[p] = true
		}
	}
	g.mu.Lock()
	g.partition = set
	g.mu.Unlock()
}

func (g *gater) setBlocked(f func(peer.ID) bool) {
	g.mu.Lock()
	g.blocked = f
	g.mu.Unlock()
}

// allowed reports whether the host may talk to p now.
func (g *gater) allowed(p peer.ID) bool {
	g.mu.RLock()
	part, blocked := g.partition, g.blocked
	g.mu.RUnlock()
	if part != nil && !part[p] {
		return false
	}
	return blocked == nil || !blocked(p)
}

func (g *gater) InterceptPeerDial(p peer.ID) bool { return g.allowed(p) }

func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.allowed(p) }

// InterceptAccept allows every inbound socket: the peer is not known until
// the handshake, where InterceptSecured decides.
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.allowed(p)
}

func (g *gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return g.allowed(c.RemotePeer()), 0
}
