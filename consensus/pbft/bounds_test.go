package pbft_test

import (
	"errors"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/ledger"
)

// junkBlock is a block at height h of view v holding txs transfers with
// long memos: never valid (nobody signed them), but the replica keeps or
// buffers a proposal before it validates the block.
func junkBlock(c *cluster, v, h uint64, txs int) *ledger.Block {
	b := &ledger.Block{Header: ledger.Header{ChainID: c.chainID, Height: h, View: v, Timestamp: int64(h)}}
	for i := range txs {
		b.Txs = append(b.Txs, &ledger.Tx{ChainID: c.chainID, Nonce: uint64(i), Amount: 1, Memo: make([]byte, 200)})
	}
	return b
}

// TestPrePrepareOverChainBlockLimitRefused: the decoder admits a block up to
// ledger.BlockBytesMax (16 MiB), while a chain allows at most its
// block_bytes_max. A PRE-PREPARE carrying a larger block can never be
// valid, and must be refused before it is kept: a faulty replica, primary
// of infinitely many views, could otherwise make every replica hold a
// window's worth of 16-MiB blocks.
func TestPrePrepareOverChainBlockLimitRefused(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, blockBytes: 2048})
	big := junkBlock(c, 1, 1, 8)
	if size := big.EncodedSize(); size <= 2048 {
		t.Fatalf("test block of %d bytes is within the limit", size)
	}
	_, blocksBefore, _, _ := c.reps[0].LogSizes()
	m := c.resign(1, &pbft.Message{Kind: pbft.KindPrePrepare, View: 1, Height: 1, Digest: big.Hash(), Block: big})
	if err := c.reps[0].Step(m); !errors.Is(err, pbft.ErrInvalid) {
		t.Fatalf("PRE-PREPARE with a %d-byte block under a 2048-byte limit: %v, want ErrInvalid", big.EncodedSize(), err)
	}
	if _, blocks, _, future := c.reps[0].LogSizes(); blocks != blocksBefore || future != 0 {
		t.Fatalf("after the refused proposal: %d blocks (was %d), %d buffered", blocks, blocksBefore, future)
	}
	small := junkBlock(c, 1, 1, 3)
	m = c.resign(1, &pbft.Message{Kind: pbft.KindPrePrepare, View: 1, Height: 1, Digest: small.Hash(), Block: small})
	if err := c.reps[0].Step(m); err != nil {
		t.Fatalf("PRE-PREPARE with a %d-byte block for a future view: %v", small.EncodedSize(), err)
	}
	if _, blocks, _, future := c.reps[0].LogSizes(); blocks != blocksBefore+1 || future != 1 {
		t.Fatalf("after a proposal within the limit: %d blocks (was %d), %d buffered, want it kept and buffered", blocks, blocksBefore, future)
	}
}

// TestFutureBufferBoundedByBytes: messages for a view not entered yet are
// buffered per peer, up to 4 per window height. Counted in messages only,
// that let one faulty peer pin that many largest blocks; the blocks one
// peer's buffered messages carry are bounded to one largest block per
// window height, what an honest primary has in flight, the oldest going
// first.
func TestFutureBufferBoundedByBytes(t *testing.T) {
	const blockBytesMax, window = 2048, 8
	c := newCluster(t, clusterOpts{n: 4, k: 4, w: window, blockBytes: blockBytesMax})
	var size int
	for i := range 4 * window {
		h := uint64(1 + i%window)
		b := junkBlock(c, 5, h, 4)
		b.Header.Timestamp = int64(i) // a distinct block each time
		size = b.EncodedSize()
		m := c.resign(1, &pbft.Message{Kind: pbft.KindPrePrepare, View: 5, Height: h, Digest: b.Hash(), Block: b})
		if err := c.reps[0].Step(m); err != nil {
			t.Fatalf("future PRE-PREPARE %d: %v", i, err)
		}
	}
	_, _, _, future := c.reps[0].LogSizes()
	if most := window * blockBytesMax / size; future > most || future == 0 {
		t.Fatalf("%d PRE-PREPAREs of %d-byte blocks buffered, want 1..%d (%d bytes per peer)", future, size, most, window*blockBytesMax)
	}
}
