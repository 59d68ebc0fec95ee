package ledger_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/synod-chain/synod/ledger"
)

// Benchmarks hold the ledger's performance figures: signing and checking
// txs, the codecs, block execution over 1,000 accounts, and the state hash.
// Run: go test ./ledger/ -run '^$' -bench . -benchtime 1x (or more).

const benchAccounts = 1000

// benchChain is a genesis with benchAccounts funded accounts and limits
// high enough for a 10,000-tx block, built once per process.
var benchChain = sync.OnceValue(func() *ledger.Genesis {
	balances := make([]uint64, benchAccounts)
	for i := range balances {
		balances[i] = 1_000_000_000
	}
	g := testGenesis(1, balances...)
	g.Consensus.BlockTxsMax = ledger.BlockTxsMax
	g.Consensus.BlockBytesMax = ledger.BlockBytesMax
	return g
})

var (
	benchTxsMu sync.Mutex
	benchTxs   = map[int][]*ledger.Tx{}
)

// transfers returns n signed transfers among the bench accounts: account i
// sends its k-th tx (nonce k) to account i+k+1, so a block of them is
// valid in order.
func transfers(n int) []*ledger.Tx {
	benchTxsMu.Lock()
	defer benchTxsMu.Unlock()
	if txs, ok := benchTxs[n]; ok {
		return txs
	}
	txs := make([]*ledger.Tx, n)
	for j := range txs {
		i, k := j%benchAccounts, j/benchAccounts
		txs[j] = signedTx(testChain, testKey(i), uint64(k), testAddr((i+k+1)%benchAccounts), 1+uint64(j%7), 1, []byte("bench"))
	}
	benchTxs[n] = txs
	return txs
}

func BenchmarkTxSign(b *testing.B) {
	tx := transfers(1)[0]
	key := testKey(0)
	for b.Loop() {
		tx.Sign(key)
	}
}

func BenchmarkCheckTx(b *testing.B) {
	tx := transfers(1)[0]
	for b.Loop() {
		if err := ledger.CheckTx(testChain, tx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckTxs(b *testing.B) {
	for _, n := range []int{64, 1000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			txs := transfers(1000)[:n]
			iters := 0
			for b.Loop() {
				if bad, err := ledger.CheckTxs(testChain, txs); err != nil {
					b.Fatalf("tx %d: %v", bad, err)
				}
				iters++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*n), "ns/tx")
		})
	}
}

// BenchmarkCheckTxsCached is a block's validation on a node whose mempool
// already verified every tx: field checks and cache lookups only.
func BenchmarkCheckTxsCached(b *testing.B) {
	txs := transfers(1000)
	cache := ledger.NewSigCache(len(txs))
	if bad, err := ledger.CheckTxsCached(testChain, txs, cache); err != nil {
		b.Fatalf("tx %d: %v", bad, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if bad, err := ledger.CheckTxsCached(testChain, txs, cache); err != nil {
			b.Fatalf("tx %d: %v", bad, err)
		}
	}
}

func BenchmarkTxEncode(b *testing.B) {
	tx := transfers(1)[0]
	for b.Loop() {
		_ = tx.Encode()
	}
}

func BenchmarkTxDecode(b *testing.B) {
	enc := transfers(1)[0].Encode()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := ledger.DecodeTx(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBlock builds a block of the first n transfers on the genesis state.
func benchBlock(b *testing.B, n int) (*chainAt, *ledger.Block) {
	b.Helper()
	c := startChain(b, benchChain())
	blk, _ := c.build(b, testAddr(0), transfers(n))
	if len(blk.Txs) != n {
		b.Fatalf("fixture: block holds %d of %d txs", len(blk.Txs), n)
	}
	return c, blk
}

func BenchmarkBlockEncode(b *testing.B) {
	_, blk := benchBlock(b, 1000)
	b.SetBytes(int64(blk.EncodedSize()))
	for b.Loop() {
		_ = blk.Encode()
	}
}

func BenchmarkBlockDecode(b *testing.B) {
	_, blk := benchBlock(b, 1000)
	enc := blk.Encode()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := ledger.DecodeBlock(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecuteBlock measures ExecuteBlock (batch signature check and
// state transition) and ValidateBlock (that plus header, tx root and state
// root) on blocks of transfers among 1,000 accounts.
func BenchmarkExecuteBlock(b *testing.B) {
	for _, n := range []int{1000, 10_000} {
		b.Run(fmt.Sprintf("execute/txs=%d", n), func(b *testing.B) {
			c, blk := benchBlock(b, n)
			iters := 0
			for b.Loop() {
				if _, err := ledger.ExecuteBlock(testChain, c.state, blk); err != nil {
					b.Fatal(err)
				}
				iters++
			}
			b.ReportMetric(float64(iters*n)/b.Elapsed().Seconds(), "txs/s")
		})
		b.Run(fmt.Sprintf("validate/txs=%d", n), func(b *testing.B) {
			c, blk := benchBlock(b, n)
			iters := 0
			for b.Loop() {
				if _, err := ledger.ValidateBlock(testChain, c.params, &c.head, c.state, blk); err != nil {
					b.Fatal(err)
				}
				iters++
			}
			b.ReportMetric(float64(iters*n)/b.Elapsed().Seconds(), "txs/s")
		})
	}
}

func BenchmarkBuildBlock(b *testing.B) {
	const n = 1000
	c := startChain(b, benchChain())
	txs := transfers(n)
	iters := 0
	for b.Loop() {
		blk, _, err := ledger.BuildBlock(c.template(testAddr(0)), c.state, txs)
		if err != nil || len(blk.Txs) != n {
			b.Fatalf("BuildBlock: %v", err)
		}
		iters++
	}
	b.ReportMetric(float64(iters*n)/b.Elapsed().Seconds(), "txs/s")
}

func BenchmarkLtHashAdd(b *testing.B) {
	var h ledger.LtHash
	addr := testAddr(0)
	leaf := append(addr[:], ledger.EncodeAccount(ledger.Account{Balance: 1, Nonce: 2})...)
	for b.Loop() {
		h.Add(leaf)
	}
}

func BenchmarkMerkleRoot(b *testing.B) {
	_, blk := benchBlock(b, 1000)
	hashes := blk.TxHashes()
	for b.Loop() {
		_ = ledger.MerkleRoot(hashes)
	}
}
