package ledger

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
)

// stWrites builds n consecutive blocks of txs transfers on c, with a
// one-signature placeholder certificate each (the store does not verify
// certificates).
func stWrites(t testing.TB, c *stChain, n, txs int) []BlockWrite {
	t.Helper()
	out := make([]BlockWrite, n)
	for i := range out {
		b, diff := c.next(t, txs)
		cert := &CommitCertificate{Height: b.Header.Height, BlockHash: b.Hash(), Signatures: []CommitSignature{{Validator: 0}}}
		out[i] = BlockWrite{Block: b, Certificate: cert, Diff: diff}
	}
	return out
}

// TestStoreApplyBlocksMatchesApplyBlock writes the same chain block by
// block into one store and in batches into another: every block,
// certificate, tx, account, history entry, the head and the state hash
// must agree, before and after a reopen.
func TestStoreApplyBlocksMatchesApplyBlock(t *testing.T) {
	c := newSTChain(t, 16, 21)
	writes := stWrites(t, c, 12, 20)
	fsOne, fsBatch := vfs.NewMem(), vfs.NewMem()
	one, batched := openSTStore(t, fsOne, c.genesis.ChainID), openSTStore(t, fsBatch, c.genesis.ChainID)
	for _, s := range []*Store{one, batched} {
		if err := s.InitGenesis(c.genesis); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range writes {
		if err := one.ApplyBlock(w.Block, w.Certificate, w.Diff); err != nil {
			t.Fatal(err)
		}
	}
	for _, part := range [][]BlockWrite{writes[:1], writes[1:7], writes[7:]} {
		if err := batched.ApplyBlocks(part); err != nil {
			t.Fatal(err)
		}
	}
	check := func(batched *Store) {
		t.Helper()
		if one.Head() != batched.Head() || one.StateHash() != batched.StateHash() {
			t.Fatalf("head %d / %d or state hash differ", one.Head().Height, batched.Head().Height)
		}
		for _, w := range writes {
			h := w.Block.Height()
			got, err := batched.BlockByHash(w.Block.Hash())
			if err != nil || got.Hash() != w.Block.Hash() {
				t.Fatalf("block %d: %v", h, err)
			}
			cert, err := batched.Certificate(h)
			if err != nil || cert.BlockHash != w.Block.Hash() {
				t.Fatalf("certificate %d: %v", h, err)
			}
			for i, tx := range w.Block.Txs {
				if gh, gi, err := batched.TxLocation(tx.Hash()); err != nil || gh != h || gi != i {
					t.Fatalf("tx %d/%d at %d/%d: %v", h, i, gh, gi, err)
				}
			}
			for addr := range w.Diff.Accounts {
				want, _ := one.AccountAt(addr, h)
				if got, err := batched.AccountAt(addr, h); err != nil || got != want {
					t.Fatalf("account %s at %d: %+v, want %+v (%v)", addr, h, got, want, err)
				}
			}
		}
		for addr, want := range c.mem.Accounts() {
			if got, err := batched.GetAccount(addr); err != nil || got != want {
				t.Fatalf("account %s: %+v, want %+v (%v)", addr, got, want, err)
			}
		}
	}
	check(batched)
	if err := batched.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openSTStore(t, fsBatch, c.genesis.ChainID)
	defer reopened.Close()
	check(reopened)
	one.Close()
}

// TestStoreApplyBlocksAllOrNothing spoils one block of a batch in each way
// the store checks (a gap, a wrong parent, a diff that does not give the
// state root, a nil diff) and checks that nothing of the batch is written
// and the cached accounts did not move; the unspoiled batch then applies.
func TestStoreApplyBlocksAllOrNothing(t *testing.T) {
	c := newSTChain(t, 8, 22)
	writes := stWrites(t, c, 5, 10)
	s := openSTStore(t, vfs.NewMem(), c.genesis.ChainID)
	defer s.Close()
	if err := s.ApplyBlocks(writes[:1]); !errors.Is(err, ErrStoreNotInit) {
		t.Fatalf("apply before genesis: %v", err)
	}
	if err := s.InitGenesis(c.genesis); err != nil {
		t.Fatal(err)
	}
	genesisHead := s.Head()
	before := map[crypto.Address]Account{}
	for addr := range writes[0].Diff.Accounts {
		a, err := s.GetAccount(addr) // fills the account cache
		if err != nil {
			t.Fatal(err)
		}
		before[addr] = a
	}
	spoil := []struct {
		name string
		want error
		bad  func([]BlockWrite) []BlockWrite
	}{
		{"first block not the head's child", ErrStoreNotNext, func(w []BlockWrite) []BlockWrite { return w[1:] }},
		{"gap in the middle", ErrStoreNotNext, func(w []BlockWrite) []BlockWrite { return append(append([]BlockWrite{}, w[:2]...), w[3:]...) }},
		{"order swapped", ErrStoreNotNext, func(w []BlockWrite) []BlockWrite {
			w = append([]BlockWrite{}, w...)
			w[3], w[4] = w[4], w[3]
			return w
		}},
		{"wrong state in the last block", ErrStoreStateMismatch, func(w []BlockWrite) []BlockWrite {
			w = append([]BlockWrite{}, w...)
			d := *w[4].Diff
			d.Hash = LtHash{}
			w[4].Diff = &d
			return w
		}},
		{"another block's diff", ErrStoreStateMismatch, func(w []BlockWrite) []BlockWrite {
			w = append([]BlockWrite{}, w...)
			w[2].Diff = w[1].Diff
			return w
		}},
		{"nil diff", nil, func(w []BlockWrite) []BlockWrite {
			w = append([]BlockWrite{}, w...)
			w[3].Diff = nil
			return w
		}},
	}
	for _, sp := range spoil {
		err := s.ApplyBlocks(sp.bad(writes))
		if err == nil || (sp.want != nil && !errors.Is(err, sp.want)) {
			t.Fatalf("%s: got %v, want %v", sp.name, err, sp.want)
		}
		if s.Head() != genesisHead {
			t.Fatalf("%s: head moved to %d", sp.name, s.Head().Height)
		}
		for _, w := range writes {
			if _, err := s.BlockByHeight(w.Block.Height()); !errors.Is(err, ErrStoreNotFound) {
				t.Fatalf("%s: block %d was written: %v", sp.name, w.Block.Height(), err)
			}
			if _, _, err := s.TxLocation(w.Block.Txs[0].Hash()); !errors.Is(err, ErrStoreNotFound) {
				t.Fatalf("%s: tx of block %d was indexed: %v", sp.name, w.Block.Height(), err)
			}
		}
		for addr := range writes[0].Diff.Accounts {
			if got, _ := s.GetAccount(addr); got != before[addr] {
				t.Fatalf("%s: account %s changed to %+v", sp.name, addr, got)
			}
		}
	}
	if err := s.ApplyBlocks(make([]BlockWrite, ApplyBlocksMax+1)); err == nil {
		t.Fatal("a batch over ApplyBlocksMax was accepted")
	}
	if err := s.ApplyBlocks(writes); err != nil {
		t.Fatalf("the unspoiled batch: %v", err)
	}
	if s.Head() != writes[4].Block.Header || s.StateHash().Root() != c.mem.StateHash().Root() {
		t.Fatalf("head %d or state after the batch is wrong", s.Head().Height)
	}
	if err := s.ApplyBlocks(writes[4:]); !errors.Is(err, ErrStoreNotNext) {
		t.Fatalf("re-applying the head: %v", err)
	}
}

// BenchmarkStoreApplyBlocks measures storing 100-transfer blocks on disk
// one fsynced batch per block (per=1) and several blocks per batch.
func BenchmarkStoreApplyBlocks(b *testing.B) {
	for _, per := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("per=%d", per), func(b *testing.B) {
			c := newSTChain(b, 200, 23)
			s := openDiskStore(b, c)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				writes := stWrites(b, c, per, 100)
				b.StartTimer()
				if err := s.ApplyBlocks(writes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}
