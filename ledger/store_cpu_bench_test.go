//go:build unix

package ledger

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStoreTransferCPU measures what storing a transfer costs the
// whole process: user and system CPU from the first block written to the
// moment Pebble's flushes and compactions have caught up, so the
// background work a block leaves behind is counted, not only the commit.
// Blocks of 1,000 transfers from 256 senders to fresh addresses, with
// 150-byte memos (the benchmark network's 250-byte txs), are built before
// the clock starts. Reported as µs of CPU per transfer, with the bytes
// compactions read and wrote and the store's size on disk (Store.Stats),
// for a store that keeps account history and for a pruned one. Unix
// only: the CPU time comes from getrusage.
func BenchmarkStoreTransferCPU(b *testing.B) {
	const (
		senders = 256
		perTx   = 1000
		blocks  = 300
	)
	c := newSTChain(b, senders, 31)
	sigs := NewSigCache(blocks * perTx)
	c.pending.SetSigCache(sigs)
	rng := rand.New(rand.NewPCG(7, 7))
	writes := make([]BlockWrite, blocks)
	for i := range writes {
		cands := make([]*Tx, perTx)
		for j := range cands {
			from := rng.IntN(senders)
			tx := &Tx{ChainID: c.genesis.ChainID, Nonce: c.nonces[from], From: c.keys[from].Public(),
				Amount: 1 + rng.Uint64N(1000), Fee: 1, Memo: make([]byte, 150)}
			for k := range tx.To {
				tx.To[k] = byte(rng.Uint32())
			}
			for k := range tx.Memo {
				tx.Memo[k] = 'a' + byte(rng.IntN(26))
			}
			c.nonces[from]++
			sigs.Add(tx.Hash()) // unsigned: the store never checks signatures
			cands[j] = tx
		}
		head := c.pending.Head()
		blk, err := c.pending.Build(head.Hash(), 0, c.genesis.Validators[0].Address(), head.Timestamp+1, cands)
		if err != nil || len(blk.Txs) != perTx {
			b.Fatalf("block %d: %v", i, err)
		}
		_, diff, err := c.pending.Commit(blk.Hash())
		if err != nil {
			b.Fatal(err)
		}
		c.mem.Apply(diff)
		cert := &CommitCertificate{Height: blk.Header.Height, BlockHash: blk.Hash(), Signatures: []CommitSignature{{Validator: 0}}}
		writes[i] = BlockWrite{Block: blk, Certificate: cert, Diff: diff}
	}
	for _, mode := range []struct {
		name  string
		prune bool
	}{{"history", false}, {"pruned", true}} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				s, err := OpenStore(b.TempDir(), StoreOptions{ChainID: c.genesis.ChainID, PruneHistory: mode.prune})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.InitGenesis(c.genesis); err != nil {
					b.Fatal(err)
				}
				before := cpuTime(b)
				for _, w := range writes {
					if err := s.Commit(nil, []BlockWrite{w}, Synced); err != nil {
						b.Fatal(err)
					}
				}
				waitCompactions(b, s)
				b.ReportMetric(float64((cpuTime(b)-before).Microseconds())/float64(blocks*perTx), "cpu-µs/transfer")
				st := s.Stats()
				b.ReportMetric(float64(st.CompactionReadBytes)/1e6, "compaction-read-MB")
				b.ReportMetric(float64(st.CompactionWriteBytes)/1e6, "compaction-write-MB")
				b.ReportMetric(float64(st.DiskBytes)/1e6, "store-MB")
				s.Close()
			}
		})
	}
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitCompactions waits until Pebble has had no flush or compaction
// running for half a second.
func waitCompactions(tb testing.TB, s *Store) {
	deadline := time.Now().Add(time.Minute)
	var idleSince time.Time
	for time.Now().Before(deadline) {
		m := s.db.Metrics()
		switch {
		case m.Compact.NumInProgress > 0 || m.Flush.NumInProgress > 0:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = time.Now()
		case time.Since(idleSince) >= 500*time.Millisecond:
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatal("compactions did not finish within a minute")
}
