package node

import (
	"sync"

	"github.com/synod-chain/synod/ledger"
)

// Feed limits: a subscriber that falls this far behind loses blocks rather
// than slowing the consensus loop; at most this many subscribers.
const (
	feedQueueBlocks    = 256
	feedSubscribersMax = 64
)

// blockFeed fans committed blocks out to subscribers (the RPC server's
// WebSocket hub) without ever blocking the consensus loop.
type blockFeed struct {
	mu     sync.Mutex
	subs   map[int]chan *ledger.Block
	next   int
	closed bool
}

func newBlockFeed() *blockFeed { return &blockFeed{subs: make(map[int]chan *ledger.Block)} }

func (f *blockFeed) publish(b *ledger.Block) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.subs {
		select {
		case ch <- b:
		default: // a slow subscriber misses blocks; it can re-read them by height
		}
	}
}

// subscribe returns a bounded channel of committed blocks and its cancel.
// Past feedSubscribersMax, the channel is returned closed.
func (f *blockFeed) subscribe() (<-chan *ledger.Block, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan *ledger.Block, feedQueueBlocks)
	if f.closed || len(f.subs) >= feedSubscribersMax {
		close(ch)
		return ch, func() {}
	}
	id := f.next
	f.next++
	f.subs[id] = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if c, ok := f.subs[id]; ok {
			delete(f.subs, id)
			close(c)
		}
	}
}

func (f *blockFeed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for id, ch := range f.subs {
		delete(f.subs, id)
		close(ch)
	}
}
