package ledger_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// buildOn builds a block on parent, whose post-state is base, as a primary
// that is not the PendingChain under test would.
func buildOn(t *testing.T, parent *ledger.Header, base ledger.StateReader, ts int64, txs ...*ledger.Tx) (*ledger.Block, *ledger.StateDiff) {
	t.Helper()
	b, diff, err := ledger.BuildBlock(ledger.BlockTemplate{
		ChainID: testChain, Params: ledger.DefaultConsensusParams(), Parent: parent,
		View: parent.Height + 1, Proposer: testAddr(8), Timestamp: ts,
	}, base, txs)
	if err != nil {
		t.Fatalf("BuildBlock: %v", err)
	}
	if len(b.Txs) != len(txs) {
		t.Fatalf("fixture: BuildBlock kept %d of %d txs", len(b.Txs), len(txs))
	}
	return b, diff
}

// commitPending commits h in pc and applies its diff to c, as the owner of
// a PendingChain must.
func commitPending(t *testing.T, pc *ledger.PendingChain, c *chainAt, h crypto.Hash) *ledger.Block {
	t.Helper()
	b, diff, err := pc.Commit(h)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	c.state.Apply(diff)
	c.head = b.Header
	if diff.Root() != b.Header.StateRoot || rootFromScratch(c.state.Accounts()) != b.Header.StateRoot {
		t.Fatalf("state after committing height %d is not its state root", b.Header.Height)
	}
	return b
}

// TestPendingChainValidatesAheadOfCommit checks the reason PendingChain
// exists: block h+1, which spends funds only block h creates, validates on
// top of pending h before h commits; commits then go in height order.
func TestPendingChainValidatesAheadOfCommit(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	b1, d1 := buildOn(t, &c.head, c.state, c.head.Timestamp+1, signedTx(testChain, testKey(0), 0, testAddr(1), 100, 1, nil))
	// Account 1 is empty until b1 applies.
	b2, _ := buildOn(t, &b1.Header, d1.Over(c.state), b1.Header.Timestamp, signedTx(testChain, testKey(1), 0, testAddr(2), 60, 2, nil))
	if err := pc.Validate(b1); err != nil {
		t.Fatalf("Validate(b1): %v", err)
	}
	if err := pc.Validate(b2); err != nil {
		t.Fatalf("Validate(b2) on pending b1: %v", err)
	}
	if err := pc.Validate(b2); err != nil || pc.Len() != 2 {
		t.Fatalf("revalidating a pending block: %v, %d pending", err, pc.Len())
	}
	// b2 is invalid on the committed state alone: the speculation matters.
	if _, err := ledger.ExecuteBlock(testChain, c.state, b2); !errors.Is(err, ledger.ErrTxInsufficientFunds) {
		t.Fatalf("fixture: b2 should need b1's state, err = %v", err)
	}
	if _, _, err := pc.Commit(b2.Hash()); err == nil {
		t.Fatalf("committed height 2 before height 1")
	}
	if _, _, err := pc.Commit(crypto.Hash{1}); err == nil {
		t.Fatalf("committed an unknown block")
	}
	commitPending(t, pc, c, b1.Hash())
	if pc.Head() != b1.Header {
		t.Fatalf("head is not b1 after committing it")
	}
	if _, ok := pc.Block(b2.Hash()); !ok {
		t.Fatalf("b2 was dropped when its parent committed")
	}
	commitPending(t, pc, c, b2.Hash())
	if pc.Len() != 0 {
		t.Fatalf("%d blocks still pending", pc.Len())
	}
	want := map[crypto.Address]ledger.Account{
		testAddr(0): {Balance: 899, Nonce: 1}, testAddr(1): {Balance: 38, Nonce: 1},
		testAddr(2): {Balance: 60}, testAddr(8): {Balance: 3},
	}
	if got := c.state.Accounts(); !maps.Equal(got, want) {
		t.Fatalf("final state %v, want %v", got, want)
	}
}

// TestPendingChainUnknownParent checks that a block (or a build request)
// on a parent that is neither the head nor pending gets ErrUnknownParent,
// the "wait or fetch" answer, not an invalid-block one.
func TestPendingChainUnknownParent(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	b1, d1 := buildOn(t, &c.head, c.state, c.head.Timestamp)
	b2, _ := buildOn(t, &b1.Header, d1.Over(c.state), b1.Header.Timestamp)
	if err := pc.Validate(b2); !errors.Is(err, ledger.ErrUnknownParent) {
		t.Fatalf("Validate with the parent missing: err = %v, want ErrUnknownParent", err)
	}
	if _, err := pc.Build(b1.Hash(), 1, testAddr(0), 0, nil); !errors.Is(err, ledger.ErrUnknownParent) {
		t.Fatalf("Build on an unknown parent: err = %v, want ErrUnknownParent", err)
	}
	if pc.Len() != 0 {
		t.Fatalf("a refused block is pending")
	}
	// Once the parent arrives, the child validates.
	if err := pc.Validate(b1); err != nil {
		t.Fatal(err)
	}
	if err := pc.Validate(b2); err != nil {
		t.Fatalf("Validate after the parent arrived: %v", err)
	}
}

// TestPendingChainPrunesForks checks that committing one of two sibling
// blocks drops the other and its descendants, and keeps the committed
// block's children; the two siblings spend the same nonce, each valid on
// its own branch.
func TestPendingChainPrunesForks(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	a1, da := buildOn(t, &c.head, c.state, c.head.Timestamp+1, signedTx(testChain, testKey(0), 0, testAddr(1), 10, 0, nil))
	b1, db := buildOn(t, &c.head, c.state, c.head.Timestamp+2, signedTx(testChain, testKey(0), 0, testAddr(2), 20, 0, nil))
	a2, _ := buildOn(t, &a1.Header, da.Over(c.state), a1.Header.Timestamp, signedTx(testChain, testKey(0), 1, testAddr(3), 1, 0, nil))
	b2, _ := buildOn(t, &b1.Header, db.Over(c.state), b1.Header.Timestamp, signedTx(testChain, testKey(0), 1, testAddr(4), 1, 0, nil))
	for _, b := range []*ledger.Block{a1, b1, a2, b2} {
		if err := pc.Validate(b); err != nil {
			t.Fatalf("Validate height %d: %v", b.Header.Height, err)
		}
	}
	if pc.Len() != 4 {
		t.Fatalf("%d pending, want 4", pc.Len())
	}
	commitPending(t, pc, c, b1.Hash())
	for name, h := range map[string]crypto.Hash{"sibling a1": a1.Hash(), "a1's child": a2.Hash()} {
		if _, ok := pc.Block(h); ok {
			t.Errorf("%s is still pending after b1 committed", name)
		}
	}
	if _, ok := pc.Block(b2.Hash()); !ok || pc.Len() != 1 {
		t.Fatalf("b2 dropped or others kept: %d pending", pc.Len())
	}
	if _, _, err := pc.Commit(a1.Hash()); err == nil {
		t.Fatalf("committed the pruned sibling")
	}
	commitPending(t, pc, c, b2.Hash())
	if got := c.state.Accounts()[testAddr(4)].Balance; got != 1 {
		t.Fatalf("b2's transfer not applied: %d", got)
	}
}

// TestPendingChainBuildThenValidateAgree checks that a block one replica
// builds (two heights deep, before any commit) validates on another
// replica's PendingChain and both reach the same state root.
func TestPendingChainBuildThenValidateAgree(t *testing.T) {
	g := testGenesis(1, 1000, 500)
	primary, replica := startChain(t, g), startChain(t, g)
	pp := ledger.NewPendingChain(testChain, primary.params, primary.head, primary.state)
	pr := ledger.NewPendingChain(testChain, replica.params, replica.head, replica.state)
	b1, err := pp.Build(primary.head.Hash(), 1, testAddr(0), primary.head.Timestamp+5, []*ledger.Tx{
		signedTx(testChain, testKey(0), 0, testAddr(1), 10, 3, nil),
		signedTx(testChain, testKey(0), 5, testAddr(1), 10, 3, nil), // gap: skipped
		signedTx(testChain, testKey(1), 0, testAddr(2), 7, 1, []byte("x")),
	})
	if err != nil || len(b1.Txs) != 2 {
		t.Fatalf("Build: %v (%d txs)", err, len(b1.Txs))
	}
	b2, err := pp.Build(b1.Hash(), 2, testAddr(1), primary.head.Timestamp+9, []*ledger.Tx{
		signedTx(testChain, testKey(0), 1, testAddr(2), 1, 1, nil),
	})
	if err != nil || len(b2.Txs) != 1 {
		t.Fatalf("Build on pending: %v", err)
	}
	for _, b := range []*ledger.Block{b1, b2} {
		if err := pr.Validate(b); err != nil {
			t.Fatalf("replica Validate height %d: %v", b.Header.Height, err)
		}
	}
	for _, b := range []*ledger.Block{b1, b2} {
		x := commitPending(t, pp, primary, b.Hash())
		y := commitPending(t, pr, replica, b.Hash())
		if x.Header.StateRoot != y.Header.StateRoot {
			t.Fatalf("height %d: roots differ", b.Header.Height)
		}
	}
	if rootFromScratch(primary.state.Accounts()) != rootFromScratch(replica.state.Accounts()) {
		t.Fatalf("the replicas' states differ")
	}
}

// TestPendingChainReset checks that Reset forgets pending blocks and
// starts from the new head.
func TestPendingChainReset(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	b1, _ := pc.Build(c.head.Hash(), 1, testAddr(0), 0, nil)
	c.commit(t, b1)
	other, _ := buildOn(t, &c.head, c.state, c.head.Timestamp)
	pc.Reset(c.head, c.state)
	if pc.Len() != 0 || pc.Head() != c.head {
		t.Fatalf("Reset kept %d pending blocks", pc.Len())
	}
	if err := pc.Validate(other); err != nil {
		t.Fatalf("Validate on the new head: %v", err)
	}
}

// TestPendingChainBoundsForks checks PendingChainBlocksMax's promise that
// a peer feeding valid-looking forks cannot grow memory without limit: it
// validates more than the limit of distinct, valid sibling blocks (they
// differ in timestamp) on top of the head.
func TestPendingChainBoundsForks(t *testing.T) {
	if testing.Short() {
		t.Skip("validates PendingChainBlocksMax blocks")
	}
	c := startChain(t, testGenesis(1, 1000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	tmpl := c.template(testAddr(0))
	proto, _, err := ledger.BuildBlock(tmpl, c.state, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ledger.PendingChainBlocksMax + 8 {
		b := &ledger.Block{Header: proto.Header}
		b.Header.Timestamp += int64(i)
		if err := pc.Validate(b); err != nil {
			// Refusing a block once full is an acceptable way to keep the bound.
			continue
		}
		if pc.Len() > ledger.PendingChainBlocksMax {
			t.Fatalf("%d blocks pending after %d forks, limit %d", pc.Len(), i+1, ledger.PendingChainBlocksMax)
		}
	}
}

// TestPendingChainFullPipelineStaysShallow runs a pipeline that never
// drains: each block is built on the newest pending one, and the oldest
// commits only after its child exists, so no block is ever built on the
// committed head. Every commit must give the right state, and a read of
// the newest block's state must walk only the diffs still pending, not
// every diff since the pipeline started.
func TestPendingChainFullPipelineStaysShallow(t *testing.T) {
	const inFlight, blocks = 3, 40
	c := startChain(t, testGenesis(1, 1_000_000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	var pending []*ledger.Block
	parent := c.head.Hash()
	for i := range blocks {
		tx := signedTx(testChain, testKey(0), uint64(i), testAddr(100+i), 10, 1, nil)
		b, err := pc.Build(parent, uint64(i+1), testAddr(8), c.head.Timestamp+int64(i+1), []*ledger.Tx{tx})
		if err != nil || len(b.Txs) != 1 {
			t.Fatalf("block %d: %v (%d txs)", i+1, err, len(b.Txs))
		}
		pending, parent = append(pending, b), b.Hash()
		if len(pending) > inFlight {
			commitPending(t, pc, c, pending[0].Hash())
			pending = pending[1:]
		}
		if d := ledger.PendingStateDepth(pc, parent); d > inFlight+1 {
			t.Fatalf("after block %d a read may walk %d diffs, want at most %d", i+1, d, inFlight+1)
		}
	}
	for _, b := range pending {
		commitPending(t, pc, c, b.Hash())
	}
	if got := c.state.Accounts()[testAddr(0)].Nonce; got != blocks {
		t.Fatalf("sender nonce %d after %d blocks", got, blocks)
	}
}

// TestVouchedBlockSkipsOnlySignatures checks what a certificate's vouch
// covers: a block holding a tx with a spoiled signature is refused unless
// the cache vouches for its hash; a vouched block is still refused for a
// tx of another chain (a field no signature check covers) and for txs that
// are not the ones its header's tx root commits to.
func TestVouchedBlockSkipsOnlySignatures(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	// reroot replaces b's txs and fixes its tx root, as a Byzantine primary
	// would; execution does not read signatures, so the state root holds.
	reroot := func(b *ledger.Block, txs ...*ledger.Tx) *ledger.Block {
		out := &ledger.Block{Header: b.Header, Txs: txs}
		out.Header.TxRoot = ledger.MerkleRoot(out.TxHashes())
		return out
	}
	validate := func(b *ledger.Block, vouch crypto.Hash) error {
		pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
		cache := ledger.NewSigCache(16)
		cache.VouchBlock(vouch)
		pc.SetSigCache(cache)
		return pc.Validate(b)
	}
	good, _ := buildOn(t, &c.head, c.state, c.head.Timestamp+1, signedTx(testChain, testKey(0), 0, testAddr(1), 100, 1, nil))
	spoiledTx := *good.Txs[0]
	spoiledTx.Signature[3] ^= 1
	spoiled := reroot(good, &spoiledTx)
	if err := validate(spoiled, crypto.Hash{}); !errors.Is(err, ledger.ErrTxBadSignature) {
		t.Fatalf("spoiled signature, not vouched: %v", err)
	}
	if err := validate(spoiled, spoiled.Hash()); err != nil {
		t.Fatalf("spoiled signature, vouched: %v", err)
	}
	other := signedTx("another-chain", testKey(0), 0, testAddr(1), 100, 1, nil)
	foreign := reroot(good, other)
	if err := validate(foreign, foreign.Hash()); !errors.Is(err, ledger.ErrTxWrongChain) {
		t.Fatalf("tx of another chain, vouched: %v", err)
	}
	swapped := &ledger.Block{Header: spoiled.Header, Txs: good.Txs}
	if err := validate(swapped, swapped.Hash()); !errors.Is(err, ledger.ErrBlockBadRoots) {
		t.Fatalf("txs not under the vouched tx root: %v", err)
	}
}

// TestPendingChainRevalidationChecksTheTxs: a block's hash covers only
// its header, so a body with other txs under the header of a pending
// block (a forged body served with the real certificate) must be refused,
// not taken as the block validated before. The test validates a block,
// then offers its header with fewer, reordered and foreign txs.
func TestPendingChainRevalidationChecksTheTxs(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000, 1000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	b, _ := buildOn(t, &c.head, c.state, c.head.Timestamp+1,
		signedTx(testChain, testKey(0), 0, testAddr(2), 100, 1, nil),
		signedTx(testChain, testKey(1), 0, testAddr(3), 50, 1, nil))
	if err := pc.Validate(b); err != nil {
		t.Fatal(err)
	}
	same := &ledger.Block{Header: b.Header, Txs: append([]*ledger.Tx(nil), b.Txs...)}
	if err := pc.Validate(same); err != nil {
		t.Fatalf("revalidating the same txs in another Block: %v", err)
	}
	foreign := signedTx(testChain, testKey(1), 0, testAddr(4), 999, 1, nil)
	for name, txs := range map[string][]*ledger.Tx{
		"fewer":     b.Txs[:1],
		"none":      nil,
		"reordered": {b.Txs[1], b.Txs[0]},
		"foreign":   {b.Txs[0], foreign},
	} {
		forged := &ledger.Block{Header: b.Header, Txs: txs}
		if forged.Hash() != b.Hash() {
			t.Fatalf("fixture: %s: the forged block's hash differs", name)
		}
		if err := pc.Validate(forged); !errors.Is(err, ledger.ErrBlockBadRoots) {
			t.Fatalf("%s txs under a pending block's header: err = %v, want ErrBlockBadRoots", name, err)
		}
	}
	got, _, err := pc.Commit(b.Hash())
	if err != nil || got != b {
		t.Fatalf("Commit: %v, block %p want %p", err, got, b)
	}
}

// fillWithForks builds valid blocks into pc until it holds
// PendingChainBlocksMax: on each of parents in turn, a child and that
// child's child, as Byzantine primaries of views that never committed
// could leave them. Each fork has its own view, so no two are alike, and
// a proposer no other block in these tests has.
func fillWithForks(t *testing.T, pc *ledger.PendingChain, parents ...crypto.Hash) {
	t.Helper()
	for i := 0; i < ledger.PendingChainBlocksMax && pc.Len() < ledger.PendingChainBlocksMax; i++ {
		view := uint64(1_000 + i)
		child, err := pc.Build(parents[i%len(parents)], view, testAddr(9), 0, nil)
		if err != nil {
			t.Fatalf("fork %d: %v", i, err)
		}
		if pc.Len() == ledger.PendingChainBlocksMax {
			break
		}
		if _, err := pc.Build(child.Hash(), view, testAddr(9), 0, nil); err != nil {
			t.Fatalf("fork %d's child: %v", i, err)
		}
	}
	if pc.Len() != ledger.PendingChainBlocksMax {
		t.Fatalf("fixture: %d blocks pending, want %d", pc.Len(), ledger.PendingChainBlocksMax)
	}
}

// TestPendingChainMakesRoomForACommittedBlock checks that a full pending
// chain cannot keep out the block known to commit at the head's child: it
// is filled with PendingChainBlocksMax valid descendants of the head, none
// of them that block, which Validate then refuses for want of room, while
// ValidateCommitted drops them all (they can never commit) and takes it;
// the chain then commits it and goes on from the new head.
func TestPendingChainMakesRoomForACommittedBlock(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	fillWithForks(t, pc, c.head.Hash())
	b1, _ := buildOn(t, &c.head, c.state, c.head.Timestamp+1, signedTx(testChain, testKey(0), 0, testAddr(1), 10, 1, nil))
	if err := pc.Validate(b1); !errors.Is(err, ledger.ErrPendingChainFull) {
		t.Fatalf("fixture: Validate of a new block in the full chain: err = %v, want ErrPendingChainFull", err)
	}
	if err := pc.ValidateCommitted(b1); err != nil {
		t.Fatalf("ValidateCommitted of the committed block in a full chain: %v", err)
	}
	if pc.Len() != 1 {
		t.Fatalf("%d blocks pending, want only the committed one: its rivals can never commit", pc.Len())
	}
	commitPending(t, pc, c, b1.Hash())
	if _, err := pc.Build(c.head.Hash(), 2, testAddr(0), c.head.Timestamp+1, nil); err != nil {
		t.Fatalf("Build on the new head: %v", err)
	}
}

// TestPendingChainCommittedBlockKeepsItsAncestors checks which blocks a
// committed block two heights above the head drops: its pending parent
// commits too, so it stays, while the parent's siblings, the block's own
// siblings and all their descendants go. Method: a full chain of forks on
// the head and on the parent; ValidateCommitted of the parent's child.
func TestPendingChainCommittedBlockKeepsItsAncestors(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	a1, d1 := buildOn(t, &c.head, c.state, c.head.Timestamp+1)
	if err := pc.Validate(a1); err != nil {
		t.Fatal(err)
	}
	fillWithForks(t, pc, c.head.Hash(), a1.Hash())
	b2, _ := buildOn(t, &a1.Header, d1.Over(c.state), a1.Header.Timestamp+1)
	if err := pc.Validate(b2); !errors.Is(err, ledger.ErrPendingChainFull) {
		t.Fatalf("fixture: Validate of a new block in the full chain: err = %v, want ErrPendingChainFull", err)
	}
	if err := pc.ValidateCommitted(b2); err != nil {
		t.Fatalf("ValidateCommitted of the committed block in a full chain: %v", err)
	}
	for name, h := range map[string]crypto.Hash{"the parent": a1.Hash(), "the committed block": b2.Hash()} {
		if _, ok := pc.Block(h); !ok {
			t.Errorf("%s is no longer pending", name)
		}
	}
	if pc.Len() != 2 {
		t.Fatalf("%d blocks pending, want the committed block and its parent", pc.Len())
	}
	commitPending(t, pc, c, a1.Hash())
	commitPending(t, pc, c, b2.Hash())
}

// TestPendingChainRetain checks which blocks a new view's Retain drops:
// above the given height, every block but the re-proposed ones, and every
// descendant of a dropped block; at or below it, nothing. Method: two
// forks from the head, a1-a2-a3 and b1-b2, and a fork c2-c3 from a1;
// Retain(1, [a2, c3]), as a NEW-VIEW re-proposing a1 (at the base, height
// 1) and a2 would call it, with c3 kept too although its parent goes (a
// block with no parent left can never be executed). Then a full chain of forks on the head, all gone
// after a Retain of none, leaves room to build again.
func TestPendingChainRetain(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	pc := ledger.NewPendingChain(testChain, c.params, c.head, c.state)
	a1, da1 := buildOn(t, &c.head, c.state, c.head.Timestamp+1)
	b1, db1 := buildOn(t, &c.head, c.state, c.head.Timestamp+2)
	over := func(d *ledger.StateDiff) ledger.StateReader { return d.Over(c.state) }
	a2, da2 := buildOn(t, &a1.Header, over(da1), a1.Header.Timestamp+1)
	c2, dc2 := buildOn(t, &a1.Header, over(da1), a1.Header.Timestamp+2)
	b2, _ := buildOn(t, &b1.Header, over(db1), b1.Header.Timestamp+1)
	a3, _ := buildOn(t, &a2.Header, da2.Over(over(da1)), a2.Header.Timestamp+1)
	c3, _ := buildOn(t, &c2.Header, dc2.Over(over(da1)), c2.Header.Timestamp+1)
	blocks := map[string]*ledger.Block{"a1": a1, "b1": b1, "a2": a2, "c2": c2, "b2": b2, "a3": a3, "c3": c3}
	for _, name := range []string{"a1", "b1", "a2", "c2", "b2", "a3", "c3"} {
		if err := pc.Validate(blocks[name]); err != nil {
			t.Fatalf("fixture: Validate %s: %v", name, err)
		}
	}

	pc.Retain(1, []crypto.Hash{a2.Hash(), c3.Hash()})
	kept := map[string]bool{"a1": true, "b1": true, "a2": true}
	for name, b := range blocks {
		if _, ok := pc.Block(b.Hash()); ok != kept[name] {
			t.Errorf("after Retain(1, [a2, c3]): %s pending = %v, want %v", name, ok, kept[name])
		}
	}
	if pc.Len() != len(kept) {
		t.Errorf("%d blocks pending, want %d", pc.Len(), len(kept))
	}
	commitPending(t, pc, c, a1.Hash())
	commitPending(t, pc, c, a2.Hash())

	fillWithForks(t, pc, c.head.Hash())
	if _, err := pc.Build(c.head.Hash(), 5, testAddr(0), c.head.Timestamp+1, nil); !errors.Is(err, ledger.ErrPendingChainFull) {
		t.Fatalf("fixture: Build in the full chain: err = %v, want ErrPendingChainFull", err)
	}
	pc.Retain(c.head.Height, nil)
	if pc.Len() != 0 {
		t.Fatalf("%d blocks pending after a Retain of none above the head, want 0", pc.Len())
	}
	if _, err := pc.Build(c.head.Hash(), 5, testAddr(0), c.head.Timestamp+1, nil); err != nil {
		t.Fatalf("Build after Retain emptied the full chain: %v", err)
	}
}
