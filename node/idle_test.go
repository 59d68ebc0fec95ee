package node

import (
	"testing"
	"time"

	"github.com/synod-chain/synod/ledger"
)

// TestGappedTxsLeaveTheChainIdle: a tx waiting behind a nonce gap cannot
// go into any block, so it must not make the primary propose at every
// tick; an idle chain proposes once per empty-block interval. Before the
// fix the pool's size alone decided, and a network holding such txs
// produced an empty block every tick, forever. The bound is an upper one
// (ticks of 20 ms, empty blocks every 200 ms): a slow machine makes fewer
// blocks, never more.
func TestGappedTxsLeaveTheChainIdle(t *testing.T) {
	ln := newLocalNet(t, 1, 1)
	ln.start(0)
	ln.waitFor("height 2", 30*time.Second, func() bool { return ln.heights(0)[0] >= 2 })
	n := ln.node(0)
	key := ln.wallets[0]
	gapped := &ledger.Tx{ChainID: ln.genesis.ChainID, Nonce: 3, To: ln.wallets[0].Public().Address(), Amount: 1, Fee: 1}
	gapped.Sign(key)
	if err := (backend{n}).SubmitTx(gapped); err != nil {
		t.Fatalf("submit a tx behind a nonce gap: %v", err)
	}
	if size, _ := n.pool.Size(); size != 1 {
		t.Fatalf("pool holds %d txs, want the gapped one", size)
	}
	const window = time.Second
	before := ln.heights(0)[0]
	time.Sleep(window)
	grown := ln.heights(0)[0] - before
	// 1 s / 200 ms = 5 empty blocks, plus slack for a block in flight.
	if grown > 8 {
		t.Fatalf("%d blocks in %s with only a gapped tx pending: the primary proposes at every tick", grown, window)
	}
	if _, _, err := n.store.TxLocation(gapped.Hash()); err == nil {
		t.Fatal("the gapped tx was committed")
	}
}
