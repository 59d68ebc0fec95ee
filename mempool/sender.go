package mempool

import (
	"bytes"
	"slices"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// entry is one pending tx with what the pool needs to know about it,
// computed once before the lock is taken.
type entry struct {
	tx    *ledger.Tx
	hash  crypto.Hash
	from  crypto.Address
	nonce uint64 // tx.Nonce, next to what the queue walks read
	size  int    // canonical encoded bytes
	cost  uint64 // amount plus fee
	// prio is the fee (copied from tx, so ordering touches no other
	// memory) and the arrival order, the tie-break between equal fees.
	prio priority
	q    *senderQueue
	// gossipedAt is the logical time the tx was last handed out for gossip
	// (unstamped until the first ForRebroadcast call after it arrived);
	// prev and next link the rebroadcast list, which is ordered by it.
	gossipedAt int64
	// addedAt is the pool's logical clock when the tx arrived, for
	// ExpireQueued.
	addedAt    int64
	prev, next *entry
}

// newEntry wraps tx. A tx decoded from the wire carries its hash, so
// gossip and RPC txs are neither encoded again nor hashed again here.
func newEntry(tx *ledger.Tx) *entry {
	cost, _ := tx.Cost() // overflow excluded by CheckTx
	return &entry{tx: tx, hash: tx.Hash(), from: tx.Sender(), nonce: tx.Nonce, size: tx.EncodedLen(), cost: cost, prio: priority{fee: tx.Fee}}
}

// sameTransfer reports whether a and b say the same thing, whatever their
// signatures: two valid signatures over one message are one transfer.
func sameTransfer(a, b *ledger.Tx) bool {
	return a.ChainID == b.ChainID && a.From == b.From && a.Nonce == b.Nonce && a.To == b.To &&
		a.Amount == b.Amount && a.Fee == b.Fee && bytes.Equal(a.Memo, b.Memo)
}

// senderQueue is one sender's pending txs in ascending nonce order, and the
// account the pool last read for it. costTotal is the sum of their costs,
// which the pool keeps at most acct.Balance.
type senderQueue struct {
	addr      crypto.Address
	acct      ledger.Account
	txs       []*entry
	costTotal uint64
	// readyIdx is the queue's position in the ready heap (-1 when its
	// lowest nonce is not the account nonce); tailIdx its position in the
	// eviction heap (-1 when empty).
	readyIdx int
	tailIdx  int
	// head and tail are the priorities of the first and last tx, kept by
	// fixSender so the heaps compare without following pointers;
	// tailQueued too, which says that the last tx waits behind a nonce gap.
	head, tail priority
	tailQueued bool
	// stale says that reading the account failed after a block committed
	// txs of this sender: acct is older than the committed state, so the
	// queue is kept but neither reaped nor trusted for nonces until a
	// read succeeds (Mempool.markStale, refresh).
	stale bool
}

func newSenderQueue(addr crypto.Address, acct ledger.Account) *senderQueue {
	return &senderQueue{addr: addr, acct: acct, readyIdx: -1, tailIdx: -1}
}

// find returns the position of nonce, or where it would be inserted.
func (q *senderQueue) find(nonce uint64) (int, bool) {
	return slices.BinarySearchFunc(q.txs, nonce, func(e *entry, n uint64) int {
		switch {
		case e.nonce < n:
			return -1
		case e.nonce > n:
			return 1
		}
		return 0
	})
}

// ready reports whether the queue's first tx is executable now. A stale
// queue's never is: its account nonce and balance are not known.
func (q *senderQueue) ready() bool {
	return !q.stale && len(q.txs) > 0 && q.txs[0].nonce == q.acct.Nonce
}

// executable is the length of the run of consecutive nonces starting at
// the account nonce.
func (q *senderQueue) executable() int {
	n := 0
	for n < len(q.txs) && q.txs[n].nonce == q.acct.Nonce+uint64(n) {
		n++
	}
	return n
}

// nextFree is the first nonce from n up that q holds no tx for.
func (q *senderQueue) nextFree(n uint64) uint64 {
	i, _ := q.find(n)
	for ; i < len(q.txs) && q.txs[i].nonce == n; i++ {
		n++
	}
	return n
}

func (q *senderQueue) last() *entry { return q.txs[len(q.txs)-1] }

// priority orders txs for Reap: higher fee first, then earlier arrival.
type priority struct {
	fee uint64
	seq uint64
}

func (a priority) before(b priority) bool {
	if a.fee != b.fee {
		return a.fee > b.fee
	}
	return a.seq < b.seq
}

// readyFirst orders the ready heap by each queue's first tx.
func readyFirst(a, b *senderQueue) bool { return a.head.before(b.head) }

// evictFirst orders the eviction heap: tails waiting behind a nonce gap
// first, then the cheapest tail, then the most recent one. The top queue
// thus has the lowest evictFee.
func evictFirst(a, b *senderQueue) bool {
	if a.tailQueued != b.tailQueued {
		return a.tailQueued
	}
	return b.tail.before(a.tail)
}

// evictFee is the fee q's tail counts as paying when a newcomer needs its
// room: none if it waits behind a nonce gap. Such a tx runs only once its
// gap fills, so its fee may never be paid; counted at face value, gapped
// txs at a fee no honest tx outbids would hold a full pool for free.
func (q *senderQueue) evictFee() uint64 {
	if q.tailQueued {
		return 0
	}
	return q.tail.fee
}
