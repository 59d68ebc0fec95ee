package p2p

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// msgQueue is a FIFO of messages bounded in count and bytes. A push that
// would exceed either bound drops the oldest messages first: for consensus
// the newest message (the current view's vote) matters more than a stale
// one, and the sender never blocks.
type msgQueue struct {
	items    [][]byte
	head     int
	bytes    int
	lenMax   int
	bytesMax int
}

func newMsgQueue(lenMax, bytesMax int) *msgQueue {
	return &msgQueue{lenMax: lenMax, bytesMax: bytesMax}
}

func (q *msgQueue) len() int { return len(q.items) - q.head }

// push appends m and returns how many old messages it dropped. A single
// message larger than bytesMax is never pushed: callers check message
// limits first, and bytesMax holds the largest message (Config.validate).
func (q *msgQueue) push(m []byte) (dropped int) {
	for q.len() > 0 && (q.len()+1 > q.lenMax || q.bytes+len(m) > q.bytesMax) {
		q.popFront()
		dropped++
	}
	q.items = append(q.items, m)
	q.bytes += len(m)
	return dropped
}

// pushFront puts msgs back at the head in order (after a failed write);
// it drops from the head, the oldest, to stay within bounds.
func (q *msgQueue) pushFront(msgs [][]byte) (dropped int) {
	rest := q.takeAll()
	for _, m := range msgs {
		dropped += q.push(m)
	}
	for _, m := range rest {
		dropped += q.push(m)
	}
	return dropped
}

func (q *msgQueue) popFront() ([]byte, bool) {
	if q.len() == 0 {
		return nil, false
	}
	m := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	q.bytes -= len(m)
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 64 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return m, true
}

func (q *msgQueue) takeAll() [][]byte {
	if q.len() == 0 {
		return nil
	}
	out := append([][]byte(nil), q.items[q.head:]...)
	clear(q.items)
	q.items, q.head, q.bytes = q.items[:0], 0, 0
	return out
}

// inbox holds inbound consensus messages in one bounded queue per peer and
// hands them out round-robin, one message per peer per turn, so a peer
// that floods fills (and overflows) only its own queue and never delays
// another peer's next message by more than one message per peer.
//
// All peers' queues together are also bounded (totalBytesMax): past it,
// the oldest message of the peer with the most bytes queued goes, so the
// bound squeezes the heaviest sender first.
type inbox struct {
	mu            sync.Mutex
	queues        map[peer.ID]*msgQueue
	ready         []peer.ID // peers with a non-empty queue, in turn order
	signal        chan struct{}
	lenMax        int
	bytesMax      int
	totalBytes    int
	totalBytesMax int
}

func newInbox(lenMax, bytesMax, totalBytesMax int) *inbox {
	return &inbox{queues: make(map[peer.ID]*msgQueue), signal: make(chan struct{}, 1),
		lenMax: lenMax, bytesMax: bytesMax, totalBytesMax: totalBytesMax}
}

// push queues m from p and returns how many of p's messages it dropped.
func (b *inbox) push(p peer.ID, m []byte) (dropped int) {
	b.mu.Lock()
	q := b.queues[p]
	if q == nil {
		q = newMsgQueue(b.lenMax, b.bytesMax)
		b.queues[p] = q
	}
	if q.len() == 0 {
		b.ready = append(b.ready, p)
	}
	before := q.bytes
	dropped = q.push(m)
	b.totalBytes += q.bytes - before
	for b.totalBytes > b.totalBytesMax && b.dropHeaviest() {
		dropped++
	}
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
	return dropped
}

// next returns the next message in turn order.
func (b *inbox) next() (peer.ID, []byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ready) == 0 {
		return "", nil, false
	}
	p := b.ready[0]
	b.ready = b.ready[1:]
	q := b.queues[p]
	m, _ := q.popFront()
	b.totalBytes -= len(m)
	if q.len() > 0 {
		b.ready = append(b.ready, p)
	} else {
		delete(b.queues, p)
	}
	return p, m, true
}

// dropHeaviest drops the oldest message of the peer with the most bytes
// queued; it reports false when nothing is queued.
func (b *inbox) dropHeaviest() bool {
	var heaviest peer.ID
	var hq *msgQueue
	for p, q := range b.queues {
		if hq == nil || q.bytes > hq.bytes {
			heaviest, hq = p, q
		}
	}
	if hq == nil || hq.len() == 0 {
		return false
	}
	m, _ := hq.popFront()
	b.totalBytes -= len(m)
	if hq.len() == 0 {
		delete(b.queues, heaviest)
		for i, p := range b.ready {
			if p == heaviest {
				b.ready = append(b.ready[:i], b.ready[i+1:]...)
				break
			}
		}
	}
	return true
}
