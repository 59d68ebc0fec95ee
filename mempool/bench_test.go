package mempool

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// The benchmarks share one signed workload: 10,000 senders with 5 nonces
// each (50,000 txs, fees drawn from a seeded source), funded in a frozen
// state. Signing it takes a few seconds, once per test binary.
const (
	benchSenders = 10_000
	benchNonces  = 5
)

var (
	benchOnce  sync.Once
	benchTxs   []*ledger.Tx // sender-major: sender s's nonce n at s*benchNonces+n
	benchState frozenState
)

func benchWorkload() ([]*ledger.Tx, ledger.StateReader) {
	benchOnce.Do(func() {
		benchTxs = make([]*ledger.Tx, benchSenders*benchNonces)
		benchState = frozenState{accounts: make(map[crypto.Address]ledger.Account, benchSenders)}
		fees := rand.New(rand.NewPCG(1, 2))
		for i := range benchTxs {
			benchTxs[i] = &ledger.Tx{ChainID: testChain, Nonce: uint64(i % benchNonces), To: sink, Amount: 1, Fee: fees.Uint64N(1000)}
		}
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Go(func() {
				for s := w; s < benchSenders; s += workers {
					key := testKey(1_000_000 + s)
					for n := range benchNonces {
						benchTxs[s*benchNonces+n].Sign(key)
					}
				}
			})
		}
		wg.Wait()
		for s := range benchSenders {
			benchState.accounts[benchTxs[s*benchNonces].Sender()] = ledger.Account{Balance: 1 << 40}
		}
	})
	return benchTxs, benchState
}

func benchConfig() Config {
	cfg := DefaultConfig(testChain)
	cfg.TxsMax = benchSenders * benchNonces
	return cfg
}

// BenchmarkAdd measures Add of a fresh, valid tx, signature check
// included, into a pool that grows to 50,000 txs (then starts over).
func BenchmarkAdd(b *testing.B) {
	txs, state := benchWorkload()
	var m *Mempool
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(txs) == 0 {
			b.StopTimer()
			m = newPool(b, benchConfig(), state)
			b.StartTimer()
		}
		if err := m.Add(txs[i%len(txs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddParallel is BenchmarkAdd from GOMAXPROCS goroutines: the
// signature check runs outside the lock, so it scales with cores.
func BenchmarkAddParallel(b *testing.B) {
	txs, state := benchWorkload()
	m := newPool(b, benchConfig(), state)
	var next sync.Mutex
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			next.Lock()
			tx := txs[i%len(txs)]
			i++
			next.Unlock()
			// After the first pass every tx is a duplicate: still the
			// full check and a trip through the lock.
			if err := m.Add(tx); err != nil && i <= len(txs) {
				b.Error(err)
			}
		}
	})
}

// fullPool returns a pool holding the whole 50,000-tx workload.
func fullPool(b *testing.B) (*Mempool, ledger.StateReader) {
	txs, state := benchWorkload()
	m := newPool(b, benchConfig(), state)
	for _, tx := range txs {
		if err := m.Add(tx); err != nil {
			b.Fatal(err)
		}
	}
	return m, state
}

// BenchmarkReap measures Reap of 5,000 txs from a pool of 50,000 across
// 10,000 senders.
func BenchmarkReap(b *testing.B) {
	m, _ := fullPool(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if got := m.Reap(5000, ledger.BlockBytesMax); len(got) != 5000 {
			b.Fatalf("reaped %d", len(got))
		}
	}
}

// BenchmarkUpdate measures Update after a block of 5,000 reaped txs from a
// pool of 50,000. Between iterations the txs are put back through the
// pool's internal path (no signature check), untimed.
func BenchmarkUpdate(b *testing.B) {
	m, before := fullPool(b)
	block := m.Reap(5000, ledger.BlockBytesMax)
	pristine := make([]entry, len(block))
	after := frozenState{accounts: make(map[crypto.Address]ledger.Account, len(block))}
	for i, tx := range block {
		pristine[i] = *newEntry(tx)
		a, ok := after.accounts[tx.Sender()]
		if !ok {
			a, _ = before.GetAccount(tx.Sender())
		}
		a.Nonce++
		a.Balance -= tx.Amount + tx.Fee
		after.accounts[tx.Sender()] = a
	}
	state := overState{changed: after, base: before}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m.Update(block, state)
		b.StopTimer()
		if n, _ := m.Size(); n != len(benchTxs)-len(block) {
			b.Fatalf("Update left %d txs", n)
		}
		m.Update(nil, before)
		m.mu.Lock()
		for i := range pristine {
			e := pristine[i]
			acct, _ := before.GetAccount(e.from)
			if err := m.addLocked(&e, acct); err != nil {
				b.Fatal(err)
			}
		}
		m.mu.Unlock()
		b.StartTimer()
	}
}

// overState reads changed accounts from changed, others from base.
type overState struct {
	changed frozenState
	base    ledger.StateReader
}

func (o overState) GetAccount(a crypto.Address) (ledger.Account, error) {
	if acct, ok := o.changed.accounts[a]; ok {
		return acct, nil
	}
	return o.base.GetAccount(a)
}
func (o overState) StateHash() ledger.LtHash { return ledger.LtHash{} }
