package testnet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/node"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
	"github.com/synod-chain/synod/testnet"
)

// chainCheck follows the chain the nodes report, height by height from
// 1: every node must hold the same block at a height, the block must be
// of that height, and it must link to the block below it (one hash
// chain, not only one set of blocks).
type chainCheck struct {
	next   uint64 // height of the next block
	parent crypto.Hash
	txs    map[crypto.Hash]int // times each tx is in the chain
	// addrs holds every address a block names (proposer, senders and
	// recipients of whole txs), for supply.
	addrs map[crypto.Address]bool
}

func newChainCheck() *chainCheck {
	return &chainCheck{next: 1, txs: make(map[crypto.Hash]int), addrs: make(map[crypto.Address]bool)}
}

// add checks the blocks the nodes hold at the next height (blocks[k] is
// node nodes[k]'s) and returns the one they agree on. The txs are counted
// from the first block, with whole txs or their hashes.
func (c *chainCheck) add(nodes []int, blocks []*rpc.Block) (*rpc.Block, error) {
	want := blocks[0]
	for k, b := range blocks[1:] {
		if b.Hash != want.Hash {
			return nil, fmt.Errorf("SAFETY: node%d has block %s at height %d, node%d has %s",
				nodes[k+1], b.Hash.Short(), c.next, nodes[0], want.Hash.Short())
		}
	}
	if want.Height != c.next {
		return nil, fmt.Errorf("asked for block %d, got block %s of height %d", c.next, want.Hash.Short(), want.Height)
	}
	if c.next > 1 && want.ParentHash != c.parent {
		return nil, fmt.Errorf("SAFETY: block %d (%s) links to %s, not to block %d (%s)",
			c.next, want.Hash.Short(), want.ParentHash.Short(), c.next-1, c.parent.Short())
	}
	c.addrs[want.Proposer] = true
	for _, tx := range want.Txs {
		if err := signedBySender(tx); err != nil {
			return nil, fmt.Errorf("SAFETY: block %d (%s): %w", c.next, want.Hash.Short(), err)
		}
		c.txs[tx.Hash]++
		c.addrs[tx.From], c.addrs[tx.To] = true, true
	}
	for _, h := range want.TxHashes {
		c.txs[h]++
	}
	c.parent = want.Hash
	c.next++
	return want, nil
}

// signedBySender checks that a committed tx, as a node reports it, is
// the tx its hash names, from the address of its public key, and signed
// with that key.
func signedBySender(t *rpc.Transaction) error {
	tx := &ledger.Tx{ChainID: t.ChainID, From: t.PublicKey, Nonce: t.Nonce, To: t.To, Amount: uint64(t.Amount), Fee: uint64(t.Fee),
		Memo: t.Memo, Signature: t.Signature}
	switch {
	case tx.Hash() != t.Hash:
		return fmt.Errorf("tx %s hashes to %s", t.Hash.Short(), tx.Hash().Short())
	case tx.Sender() != t.From:
		return fmt.Errorf("tx %s is from %s, but its key's address is %s", t.Hash.Short(), t.From, tx.Sender())
	}
	if err := crypto.Verify(tx.From, crypto.DomainTx, tx.ChainID, tx.SigningBytes(), tx.Signature); err != nil {
		return fmt.Errorf("tx %s is not signed by its sender: %w", t.Hash.Short(), err)
	}
	return nil
}

// committedOnce checks that every acknowledged tx is in the chain
// exactly once.
func (c *chainCheck) committedOnce(acked []crypto.Hash) error {
	var errs []error
	for _, h := range acked {
		if c.txs[h] != 1 {
			errs = append(errs, fmt.Errorf("acknowledged tx %s is in the chain %d times", h.Short(), c.txs[h]))
		}
	}
	return errors.Join(errs...)
}

// finish ends the check at height, the last it added: every tx in acked
// must be in the chain exactly once (committedOnce), and on each node of
// nodes the balances must sum to the genesis supply of netw (supply).
func (c *chainCheck) finish(ctx context.Context, netw *testnet.Network, clientOf func(int) *client.Client, nodes []int, height uint64, acked []crypto.Hash) error {
	if err := c.committedOnce(acked); err != nil {
		return err
	}
	g, err := ledger.ReadGenesisFile(filepath.Join(netw.Members[0].Home, node.GenesisFile))
	if err != nil {
		return err
	}
	return c.supply(ctx, g, clientOf, nodes, height)
}

// supply checks that on each node of nodes (clientOf(i) is node i's) the
// balances at height sum to the genesis supply, over the genesis accounts
// and every address the chain check saw (it must have read whole txs).
func (c *chainCheck) supply(ctx context.Context, g *ledger.Genesis, clientOf func(int) *client.Client, nodes []int, height uint64) error {
	addrs := maps.Clone(c.addrs)
	for _, a := range g.Accounts {
		addrs[a.Address] = true
	}
	for _, i := range nodes {
		var bals []uint64
		for a := range addrs {
			bal, err := clientOf(i).Balance(ctx, a, rpc.AtHeight(height))
			if err != nil {
				return fmt.Errorf("node%d balance of %s: %w", i, a, err)
			}
			bals = append(bals, bal)
		}
		total, err := supplyOf(bals)
		if err != nil {
			return fmt.Errorf("node%d: %w", i, err)
		}
		if total != g.TotalSupply() {
			return fmt.Errorf("SAFETY: node%d: balances sum to %d at height %d, genesis supply %d", i, total, height, g.TotalSupply())
		}
	}
	return nil
}

// supplyOf sums the balances of the accounts, failing where the sum
// passes 2^64 rather than wrapping: a balance that went below zero wraps
// to near 2^64, and a wrapping sum of it with the coins it wrongly paid
// out is the genesis supply again.
func supplyOf(balances []uint64) (uint64, error) {
	var total uint64
	for _, b := range balances {
		var carry uint64
		if total, carry = bits.Add64(total, b, 0); carry != 0 {
			return 0, fmt.Errorf("balances sum past 2^64 (one of %d is near 2^64: a balance that went below zero?)", len(balances))
		}
	}
	return total, nil
}

// TestSupplyOfCatchesWrappedBalance feeds the balance checker the
// balances of a transfer that drove its sender below zero: 10 coins
// sent from a balance of 5 leave the sender at 2^64-5 and the recipient
// 10 richer. A wrapping sum is the supply again; the checker must fail.
func TestSupplyOfCatchesWrappedBalance(t *testing.T) {
	if got, err := supplyOf([]uint64{100, 5}); err != nil || got != 105 {
		t.Fatalf("supplyOf(100, 5) = %d, %v; want 105", got, err)
	}
	if got, err := supplyOf([]uint64{110, math.MaxUint64 - 4}); err == nil {
		t.Fatalf("a balance below zero (wrapped) sums to %d without an error", got)
	}
}

// checkEvidence checks the evidence the nodes held when validator byz
// turned Byzantine (before, by node) and the evidence the honest nodes
// hold at the end (after): none may name a validator, byz included,
// before; none may name a validator other than byz after; and with
// mustCatch at least one must name byz. Evidence against byz from
// before its Byzantine phase is an honest validator's offence: the
// schedule picks byz at random, and it might have picked another node.
func checkEvidence(before, after map[int][]testnet.Evidence, byz int, mustCatch bool) error {
	for i, list := range before {
		if len(list) > 0 {
			return fmt.Errorf("node%d holds evidence against validator %d from before any validator was Byzantine: %s", i, list[0].Validator, list[0].Reason)
		}
	}
	caught := false
	for i, list := range after {
		for _, ev := range list {
			if int(ev.Validator) != byz {
				return fmt.Errorf("node%d holds evidence against honest validator %d: %s", i, ev.Validator, ev.Reason)
			}
			caught = true
		}
	}
	if mustCatch && !caught {
		return fmt.Errorf("no honest node caught double-voting validator %d", byz)
	}
	return nil
}

// TestCheckEvidence checks the evidence checker: evidence against the
// Byzantine validator from its Byzantine phase passes; evidence against
// an honest validator fails, as does evidence against the Byzantine one
// recorded while it was still honest, and none at all when the
// Byzantine validator must be caught.
func TestCheckEvidence(t *testing.T) {
	against := func(v uint16) testnet.Evidence { return testnet.Evidence{Validator: v, Kind: 1, Reason: "two commits"} }
	clean := map[int][]testnet.Evidence{0: nil, 1: nil}
	if err := checkEvidence(clean, map[int][]testnet.Evidence{0: {against(3)}, 1: nil}, 3, true); err != nil {
		t.Fatalf("evidence against the Byzantine validator only: %v", err)
	}
	if err := checkEvidence(clean, map[int][]testnet.Evidence{0: {against(3), against(1)}}, 3, false); err == nil {
		t.Fatal("evidence against honest validator 1 passed")
	}
	if err := checkEvidence(map[int][]testnet.Evidence{1: {against(3)}}, map[int][]testnet.Evidence{1: {against(3)}}, 3, true); err == nil {
		t.Fatal("validator 3 double-signed while honest, and the checker let it pass because 3 turned Byzantine later")
	}
	if err := checkEvidence(clean, clean, 3, true); err == nil {
		t.Fatal("a double-voter nobody caught passed")
	}
}

// testChain builds blocks 1..n of a chain, each with one tx.
func testChain(n int) []*rpc.Block {
	var chain []*rpc.Block
	var parent crypto.Hash
	for h := 1; h <= n; h++ {
		b := &rpc.Block{BlockHeader: rpc.BlockHeader{Height: uint64(h), ParentHash: parent},
			TxHashes: []crypto.Hash{crypto.Sum256([]byte(fmt.Sprintf("tx %d", h)))}}
		b.Hash = crypto.Sum256([]byte(fmt.Sprintf("block %d parent %s", h, parent)))
		chain = append(chain, b)
		parent = b.Hash
	}
	return chain
}

// followChain runs the chain checker over the chains of several nodes
// (chains[k] is node k's), as the chaos and leader-crash tests do.
func followChain(chains [][]*rpc.Block) (*chainCheck, error) {
	c := newChainCheck()
	nodes := make([]int, len(chains))
	for k := range nodes {
		nodes[k] = k
	}
	for h := range chains[0] {
		blocks := make([]*rpc.Block, len(chains))
		for k := range chains {
			blocks[k] = chains[k][h]
		}
		if _, err := c.add(nodes, blocks); err != nil {
			return c, err
		}
	}
	return c, nil
}

// TestChainCheckCatchesBrokenChains gives the chain checker three nodes'
// chains: identical and linked, then with one node holding another block
// at height 2, then identical on every node but with block 3 linked to
// a block that is not block 2; each break must be reported.
func TestChainCheckCatchesBrokenChains(t *testing.T) {
	good := testChain(4)
	if _, err := followChain([][]*rpc.Block{good, good, good}); err != nil {
		t.Fatalf("one chain on every node: %v", err)
	}

	forked := append([]*rpc.Block(nil), good...)
	other := *good[1]
	other.Hash = crypto.Sum256([]byte("another block 2"))
	forked[1] = &other
	if _, err := followChain([][]*rpc.Block{good, forked, good}); err == nil || !strings.Contains(err.Error(), "node1 has block") {
		t.Fatalf("node1 has another block at height 2: %v, want a SAFETY error naming node1", err)
	}

	unlinked := append([]*rpc.Block(nil), good...)
	b3 := *good[2]
	b3.ParentHash = crypto.Sum256([]byte("not block 2"))
	unlinked[2] = &b3
	if _, err := followChain([][]*rpc.Block{unlinked, unlinked, unlinked}); err == nil || !strings.Contains(err.Error(), "links to") {
		t.Fatalf("block 3 not linked to block 2 on every node: %v, want a SAFETY error", err)
	}
}

// TestCommittedOnceCatchesLostAndDoubled checks the tx count: a tx in
// the chain once passes, a tx in it twice or never fails.
func TestCommittedOnceCatchesLostAndDoubled(t *testing.T) {
	chain := testChain(3)
	chain[2].TxHashes = append(chain[2].TxHashes, chain[0].TxHashes[0]) // tx of block 1 again
	c, err := followChain([][]*rpc.Block{chain})
	if err != nil {
		t.Fatal(err)
	}
	once, twice, never := chain[1].TxHashes[0], chain[0].TxHashes[0], crypto.Sum256([]byte("never sent"))
	if err := c.committedOnce([]crypto.Hash{once}); err != nil {
		t.Fatalf("a tx committed once: %v", err)
	}
	if err := c.committedOnce([]crypto.Hash{once, twice}); err == nil || !strings.Contains(err.Error(), "2 times") {
		t.Fatalf("a tx committed twice: %v, want an error", err)
	}
	if err := c.committedOnce([]crypto.Hash{never}); err == nil || !strings.Contains(err.Error(), "0 times") {
		t.Fatalf("a tx never committed: %v, want an error", err)
	}
}

// TestChainCheckCatchesForgedTx gives the chain checker a block whose
// tx names one key as its sender but was signed with another (a
// signature check that let it through), then a tx signed by its sender:
// the first must be reported, the second pass.
func TestChainCheckCatchesForgedTx(t *testing.T) {
	alice, err := crypto.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := crypto.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	block := func(signer crypto.PrivateKey) *rpc.Block {
		tx := &ledger.Tx{ChainID: "synod-testnet", Nonce: 1, To: mallory.Public().Address(), Amount: 500, Fee: 1}
		tx.Sign(signer)
		tx.From = alice.Public() // the sender it claims
		b := testChain(1)[0]
		b.TxHashes = nil
		b.Full, b.Txs = true, []*rpc.Transaction{rpc.NewPendingTransaction(tx)}
		return b
	}
	if _, err := newChainCheck().add([]int{0}, []*rpc.Block{block(alice)}); err != nil {
		t.Fatalf("a tx signed by its sender: %v", err)
	}
	if _, err := newChainCheck().add([]int{0}, []*rpc.Block{block(mallory)}); err == nil || !strings.Contains(err.Error(), "not signed by its sender") {
		t.Fatalf("a tx from alice signed by mallory: %v, want a SAFETY error", err)
	}
}
