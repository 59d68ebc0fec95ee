package node

import (
	"sync"
	"time"

	"github.com/synod-chain/synod/rpc"
)

// storeReadersWaitMax bounds how long closing the store waits for the
// reads in flight: one that takes longer is stuck on the disk, and the
// store is then left open for the process's exit to release (what the
// consensus loop wrote is synced by then: the loop syncs when it stops).
const storeReadersWaitMax = 5 * time.Second

// errNodeClosing answers a read of the store once the node closes it.
var errNodeClosing = &rpc.Error{Code: rpc.CodeUnavailable, Message: "node shutting down"}

// storeGate admits the store's readers that run outside the consensus
// loop: RPC calls, WebSocket subscription hooks, metrics scrapes. The RPC
// server's shutdown is bounded (shutdownTimeout), so a handler or a hook
// may outlive it, and Pebble panics on a read of a closed DB; closing the
// gate refuses new readers and waits, for a bounded time, for those in.
// The zero value is an open gate.
type storeGate struct {
	mu      sync.Mutex
	closed  bool
	readers int
	// left is made by close while readers are in, and closed by the
	// last of them to leave.
	left chan struct{}
}

// enter admits a reader, who must call leave, or reports false once the
// gate is closed.
func (g *storeGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.readers++
	return true
}

func (g *storeGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.readers--
	if g.readers == 0 && g.left != nil {
		close(g.left)
		g.left = nil
	}
}

// close refuses new readers and waits up to wait for those in; it returns
// how many are still in (0: the store may close).
func (g *storeGate) close(wait time.Duration) int {
	g.mu.Lock()
	g.closed = true
	if g.readers == 0 {
		g.mu.Unlock()
		return 0
	}
	if g.left == nil {
		g.left = make(chan struct{})
	}
	left := g.left
	g.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-left:
		return 0
	case <-timer.C:
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.readers
	}
}
