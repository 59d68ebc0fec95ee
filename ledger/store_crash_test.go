package ledger

import (
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
)

// TestStoreCrashConsistency kills the store mid-commit many times: a writer
// applies blocks while the test takes crash clones of Pebble's in-memory
// file system (keeping a random share of unsynced data), then reopens each
// clone and checks that the head block, the state hash and every account
// equal the expected state at the recovered head, and that no block
// acknowledged before the clone was lost.
func TestStoreCrashConsistency(t *testing.T) {
	const blocks = 60
	crashes := 40
	if testing.Short() {
		crashes = 10
	}
	c := newSTChain(t, 16, 4)
	fs := vfs.NewCrashableMem()
	s := openSTStore(t, fs, c.genesis.ChainID)
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	// Build every block and the expected state after it up front, so the
	// writer goroutine does nothing but commit.
	type step struct {
		block *Block
		diff  *StateDiff
		state map[crypto.Address]Account
	}
	steps := []step{{state: c.mem.Accounts()}}
	for h := 1; h <= blocks; h++ {
		b, d := c.next(t, 20)
		steps = append(steps, step{block: b, diff: d, state: c.mem.Accounts()})
	}

	var acked atomic.Uint64 // highest height whose ApplyBlock returned
	done := make(chan error, 1)
	go func() {
		for _, st := range steps[1:] {
			if err := s.ApplyBlock(st.block, nil, st.diff); err != nil {
				done <- err
				return
			}
			acked.Store(st.block.Height())
		}
		done <- nil
	}()

	rng := rand.New(rand.NewPCG(7, 7))
	var clones []*vfs.MemFS
	var ackedAtClone []uint64
	for i := 0; i < crashes; i++ {
		before := acked.Load()
		clones = append(clones, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng}))
		ackedAtClone = append(ackedAtClone, before)
		for j := rng.IntN(50); j > 0; j-- {
			runtime.Gosched() // let the writer run between clones
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.Close()

	recovered := map[uint64]int{}
	for i, clone := range clones {
		r, err := OpenStore("db", StoreOptions{ChainID: c.genesis.ChainID, FS: clone})
		if err != nil {
			t.Fatalf("crash %d: reopen: %v", i, err)
		}
		head := r.Head().Height
		recovered[head]++
		if head < ackedAtClone[i] {
			t.Fatalf("crash %d: head %d lost block %d acknowledged before the crash", i, head, ackedAtClone[i])
		}
		want := steps[head].state
		for addr, acct := range want {
			got, err := r.GetAccount(addr)
			if err != nil || got != acct {
				t.Fatalf("crash %d at head %d: account %x got %+v want %+v (%v)", i, head, addr, got, acct, err)
			}
		}
		if head > 0 && r.Head().Hash() != steps[head].block.Hash() {
			t.Fatalf("crash %d: head hash differs from block %d", i, head)
		}
		if _, err := r.BlockByHeight(head + 1); err == nil {
			t.Fatalf("crash %d: block above the head %d survived", i, head)
		}
		r.Close()
	}
	t.Logf("%d crashes recovered at %d distinct heads", len(clones), len(recovered))
}
