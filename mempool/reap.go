package mempool

import (
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// reapItem is a candidate for Reap's next tx: e, at position pos of its
// sender's queue q. node is q's position in the ready heap when the item
// was taken from there (its children are then due as candidates too), and
// -1 for a sender's later nonce.
type reapItem struct {
	prio priority // e's, copied so the frontier compares in place
	e    *entry
	q    *senderQueue
	pos  int
	node int
}

func reapFirst(a, b reapItem) bool { return a.prio.before(b.prio) }

// Reap returns up to maxTxs executable txs whose encoded sizes sum to at
// most maxBytes, as candidates for ledger.BuildBlock (which adds the block
// header and a 2-byte length per tx, and enforces the block's exact limits
// itself): each sender's txs in
// consecutive nonce order from its account nonce, senders interleaved by
// the priority (fee, then arrival) of each one's next tx. A sender whose
// next tx does not fit in the bytes left is skipped with its later nonces.
// Reap removes nothing; the caller must not modify the returned txs.
//
// It walks the ready heap from the root without changing it: a node's
// children can only come after it, so the frontier holds the popped
// nodes' children and the popped senders' next nonces, O(k) items, and
// k pops cost O(k log k) whatever the number of senders (a pop is a tx
// taken, or one skipped for bytes, which blocks its sender).
func (m *Mempool) Reap(maxTxs, maxBytes int) []*ledger.Tx {
	return m.ReapAfter(maxTxs, maxBytes, nil)
}

// ReapAfter is Reap for a block whose parent is not committed yet: next
// gives each sender's next nonce in the parent's state, and the txs below
// it, which blocks in flight already hold, are skipped (a sender whose
// next nonce is not pending contributes nothing). Without it a pipelined
// primary would reap the same top txs for every block in flight and leave
// the rest waiting. A nil next is Reap.
func (m *Mempool) ReapAfter(maxTxs, maxBytes int, next func(crypto.Address) uint64) []*ledger.Tx {
	if maxTxs <= 0 || maxBytes <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ready.len() == 0 {
		return nil
	}
	k := min(maxTxs, len(m.byHash))
	frontier := heapOf[reapItem]{first: reapFirst, items: make([]reapItem, 0, 2*k+1)}
	frontier.push(m.readyItem(0))
	out := make([]*ledger.Tx, 0, k)
	left := maxBytes
	for frontier.len() > 0 && len(out) < maxTxs && left >= m.minTxBytes {
		it := frontier.pop()
		if it.node >= 0 {
			for c := 2*it.node + 1; c <= 2*it.node+2 && c < m.ready.len(); c++ {
				frontier.push(m.readyItem(c))
			}
		}
		if next != nil && it.node >= 0 && !it.skipTo(next(it.q.addr)) {
			continue
		}
		if it.e.size > left {
			continue
		}
		out = append(out, it.e.tx)
		left -= it.e.size
		if next := it.pos + 1; next < len(it.q.txs) && it.q.txs[next].nonce == it.e.nonce+1 {
			frontier.push(reapItem{prio: it.q.txs[next].prio, e: it.q.txs[next], q: it.q, pos: next, node: -1})
		}
	}
	return out
}

// skipTo moves a sender's first item to its tx with nonce, which must
// continue the run of consecutive nonces from the sender's first pending
// tx; it reports false if there is no such tx.
func (it *reapItem) skipTo(nonce uint64) bool {
	first := it.q.txs[0].nonce
	if nonce <= first {
		return true
	}
	j, ok := it.q.find(nonce)
	if !ok || it.q.txs[j].nonce-first != uint64(j) {
		return false
	}
	it.pos, it.e, it.prio = j, it.q.txs[j], it.q.txs[j].prio
	return true
}

func (m *Mempool) readyItem(node int) reapItem {
	q := m.ready.items[node]
	return reapItem{prio: q.head, e: q.txs[0], q: q, pos: 0, node: node}
}
