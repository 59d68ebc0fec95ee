package mempool

import (
	"errors"
	"sync"
	"testing"

	"github.com/synod-chain/synod/ledger"
)

// TestConcurrentUse checks that the pool stays consistent when many
// goroutines Add (each its own senders, plus everyone re-sending a shared
// set) while one goroutine reaps, commits and updates and others read; run
// it under -race. Only the expected rejections may occur, and once the
// adders stop, committing until the pool is empty must drain it.
func TestConcurrentUse(t *testing.T) {
	const adders, sendersEach, noncesEach = 8, 2, 12
	balances := make([]uint64, adders*sendersEach)
	for i := range balances {
		balances[i] = 1_000_000
	}
	chain := newTestChain(balances...)
	cfg := testConfig()
	cfg.TxsMax = 120 // below the total, so eviction and ErrMempoolFull happen too
	m := newPool(t, cfg, chain.frozen())

	work := make([][]*ledger.Tx, adders)
	for g := range adders {
		for s := range sendersEach {
			for n := range noncesEach {
				work[g] = append(work[g], signedTx(g*sendersEach+s, uint64(n), 1, uint64(1+(g+n)%7)))
			}
		}
	}
	shared := work[0][:noncesEach]

	var adding, background sync.WaitGroup
	errs := make(chan error, adders)
	stop := make(chan struct{})
	for g := range adders {
		adding.Add(1)
		go func() {
			defer adding.Done()
			for i, tx := range work[g] {
				for _, t := range []*ledger.Tx{tx, shared[i%len(shared)]} {
					err := m.Add(t)
					if err != nil && !errors.Is(err, ErrDuplicate) && !errors.Is(err, ledger.ErrTxNonceTooLow) &&
						!errors.Is(err, ErrMempoolFull) && !errors.Is(err, ErrSenderFull) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	background.Add(1)
	go func() { // readers
		defer background.Done()
		for now := int64(0); ; now++ {
			select {
			case <-stop:
				return
			default:
			}
			m.ForRebroadcast(now, 3)
			for _, tx := range m.Pending() {
				m.Get(tx.Hash())
			}
			_, _ = m.PendingNonce(testAddr(int(now) % len(balances)))
			m.Size()
		}
	}()
	commitRound := func() int {
		txs := chain.commit(t, m.Reap(25, 1<<20)...)
		m.Update(txs, chain.frozen())
		return len(txs)
	}
	done := make(chan struct{})
	go func() { adding.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			commitRound()
		}
	}
	close(stop)
	background.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected rejection: %v", err)
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if commitRound() == 0 {
			break
		}
	}
	if n, _ := m.Size(); n != 0 {
		// Only txs above a gap (their lower nonce evicted) may be left.
		if got := m.Reap(1000, 1<<30); len(got) != 0 {
			t.Fatalf("%d executable txs left after draining", len(got))
		}
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}
