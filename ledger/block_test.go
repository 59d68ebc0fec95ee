package ledger_test

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// validChild returns a chain at genesis and a valid block 1 with two txs.
func validChild(t *testing.T) (*chainAt, *ledger.Block) {
	t.Helper()
	c := startChain(t, testGenesis(1, 1000, 1000))
	b, _ := c.build(t, testAddr(0), []*ledger.Tx{
		signedTx(testChain, testKey(0), 0, testAddr(1), 10, 1, nil),
		signedTx(testChain, testKey(1), 0, testAddr(2), 20, 2, []byte("hi")),
	})
	if len(b.Txs) != 2 {
		t.Fatalf("fixture: BuildBlock kept %d of 2 txs", len(b.Txs))
	}
	return c, b
}

func cloneBlock(b *ledger.Block) *ledger.Block {
	return &ledger.Block{Header: b.Header, Txs: append([]*ledger.Tx(nil), b.Txs...)}
}

// TestValidateBlockRejectsBadBlocks checks that each way a block can break
// the chain's rules is refused with its sentinel and reason: it starts from
// a valid block (which must pass) and breaks one thing at a time.
func TestValidateBlockRejectsBadBlocks(t *testing.T) {
	c, good := validChild(t)
	if _, err := ledger.ValidateBlock(testChain, c.params, &c.head, c.state, good); err != nil {
		t.Fatalf("the unbroken block: %v", err)
	}
	size := good.EncodedSize()
	cases := []struct {
		name   string
		params func(*ledger.ConsensusParams)
		break_ func(*ledger.Block)
		want   error
		reason string
	}{
		{name: "wrong height", break_: func(b *ledger.Block) { b.Header.Height++ }, want: ledger.ErrBlockInvalid, reason: "height"},
		{name: "height of the parent", break_: func(b *ledger.Block) { b.Header.Height-- }, want: ledger.ErrBlockInvalid, reason: "height"},
		{name: "wrong parent hash", break_: func(b *ledger.Block) { b.Header.ParentHash[0] ^= 1 }, want: ledger.ErrBlockInvalid, reason: "parent hash"},
		{name: "timestamp going back", break_: func(b *ledger.Block) { b.Header.Timestamp = c.head.Timestamp - 1 }, want: ledger.ErrBlockInvalid, reason: "timestamp"},
		{name: "wrong chain id", break_: func(b *ledger.Block) { b.Header.ChainID = "synod-other" }, want: ledger.ErrBlockInvalid, reason: "chain id"},
		{name: "too many txs", params: func(p *ledger.ConsensusParams) { p.BlockTxsMax = 1 }, want: ledger.ErrBlockInvalid, reason: "txs exceeds"},
		{name: "too many bytes", params: func(p *ledger.ConsensusParams) { p.BlockBytesMax = uint32(size - 1) }, want: ledger.ErrBlockInvalid, reason: "bytes exceeds"},
		{name: "bad tx root", break_: func(b *ledger.Block) { b.Header.TxRoot[31] ^= 1 }, want: ledger.ErrBlockBadRoots, reason: "tx root"},
		{name: "txs reordered", break_: func(b *ledger.Block) { b.Txs[0], b.Txs[1] = b.Txs[1], b.Txs[0] }, want: ledger.ErrBlockBadRoots, reason: "tx root"},
		{name: "tx dropped", break_: func(b *ledger.Block) { b.Txs = b.Txs[:1] }, want: ledger.ErrBlockBadRoots, reason: "tx root"},
		{name: "bad state root", break_: func(b *ledger.Block) { b.Header.StateRoot[0] ^= 1 }, want: ledger.ErrBlockBadRoots, reason: "state root"},
		{name: "fees to another proposer", break_: func(b *ledger.Block) { b.Header.Proposer = testAddr(7) }, want: ledger.ErrBlockBadRoots, reason: "state root"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := cloneBlock(good)
			params := c.params
			if tc.params != nil {
				tc.params(&params)
			}
			if tc.break_ != nil {
				tc.break_(b)
			}
			snap := takeSnapshot(c.state)
			diff, err := ledger.ValidateBlock(testChain, params, &c.head, c.state, b)
			if !errors.Is(err, tc.want) || err == nil || !strings.Contains(err.Error(), tc.reason) || diff != nil {
				t.Fatalf("err = %v, want %v about %q", err, tc.want, tc.reason)
			}
			if !snap.same(c.state) {
				t.Fatalf("a rejected block changed the state")
			}
		})
	}
	// The limits are inclusive: a block exactly at them is valid.
	params := c.params
	params.BlockTxsMax, params.BlockBytesMax = 2, uint32(size)
	if _, err := ledger.ValidateBlock(testChain, params, &c.head, c.state, good); err != nil {
		t.Fatalf("block exactly at the limits: %v", err)
	}
}

// TestFeesGoToProposer checks that a block's fees are credited to its
// proposer, once, and that supply is conserved, including when the
// proposer is itself a sender.
func TestFeesGoToProposer(t *testing.T) {
	for _, proposer := range []int{5, 0} {
		c := startChain(t, testGenesis(1, 1000, 1000))
		before := c.state.Accounts()
		b, diff := c.build(t, testAddr(proposer), []*ledger.Tx{
			signedTx(testChain, testKey(0), 0, testAddr(1), 10, 3, nil),
			signedTx(testChain, testKey(1), 0, testAddr(0), 20, 5, nil),
			signedTx(testChain, testKey(0), 1, testAddr(1), 0, 7, nil),
		})
		if len(b.Txs) != 3 || diff.Fees != 15 {
			t.Fatalf("fixture: %d txs, fees %d", len(b.Txs), diff.Fees)
		}
		c.commit(t, b)
		after := c.state.Accounts()
		want0 := before[testAddr(0)].Balance - 10 - 3 + 20 - 7
		if proposer == 0 {
			want0 += 15
		} else if got := after[testAddr(proposer)].Balance; got != 15 {
			t.Fatalf("proposer %d has %d, want the 15 in fees", proposer, got)
		}
		if got := after[testAddr(0)].Balance; got != want0 {
			t.Fatalf("proposer %d: account 0 has %d, want %d", proposer, got, want0)
		}
		if supply(t, after) != supply(t, before) {
			t.Fatalf("supply changed from %d to %d", supply(t, before), supply(t, after))
		}
	}
}

// TestEmptyAccountsStayOutOfState checks what the Account doc promises: an
// account with zero balance and nonce is not in the state, so a zero-value
// transfer to a fresh address and a fee-less block credit nobody; only the
// sender's nonce changes the root, and the root equals the from-scratch
// root over non-empty accounts.
func TestEmptyAccountsStayOutOfState(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	fresh, proposer := testAddr(freshBase), testAddr(freshBase+1)
	b, diff := c.build(t, proposer, []*ledger.Tx{
		signedTx(testChain, testKey(0), 0, fresh, 0, 0, nil),
		signedTx(testChain, testKey(0), 1, testAddr(0), 0, 0, nil), // zero self-transfer
	})
	if len(b.Txs) != 2 {
		t.Fatalf("fixture: BuildBlock kept %d of 2 zero-value txs", len(b.Txs))
	}
	for _, addr := range []crypto.Address{fresh, proposer} {
		if _, ok := diff.Accounts[addr]; ok {
			t.Errorf("the diff touches %s, which must stay empty", addr)
		}
	}
	c.commit(t, b)
	accounts := c.state.Accounts()
	if len(accounts) != 1 || accounts[testAddr(0)] != (ledger.Account{Balance: 1000, Nonce: 2}) {
		t.Fatalf("state after zero-value txs: %v", accounts)
	}
	if rootFromScratch(accounts) != b.Header.StateRoot {
		t.Fatalf("state root is not the root over the non-empty accounts")
	}
	// The same state reached directly: one account with nonce 2.
	want := rootFromScratch(map[crypto.Address]ledger.Account{testAddr(0): {Balance: 1000, Nonce: 2}})
	if b.Header.StateRoot != want {
		t.Fatalf("root depends on more than the non-empty accounts")
	}
	// An empty block changes nothing at all.
	empty, _ := c.build(t, proposer, nil)
	if empty.Header.StateRoot != b.Header.StateRoot || empty.Header.TxRoot != ledger.MerkleRoot(nil) {
		t.Fatalf("an empty block changed the state root")
	}
}

// TestBlockSelfTransferKeepsBalance checks the aliasing case of a transfer
// to oneself: only the fee leaves the account.
func TestBlockSelfTransferKeepsBalance(t *testing.T) {
	c := startChain(t, testGenesis(1, 1000))
	b, _ := c.build(t, testAddr(9), []*ledger.Tx{signedTx(testChain, testKey(0), 0, testAddr(0), 600, 4, nil)})
	c.commit(t, b)
	if got := c.state.Accounts()[testAddr(0)]; got != (ledger.Account{Balance: 996, Nonce: 1}) {
		t.Fatalf("after a self-transfer: %+v, want balance 996 nonce 1", got)
	}
}

func sha(parts ...[]byte) crypto.Hash {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out crypto.Hash
	h.Sum(out[:0])
	return out
}

// TestMerkleRootVectors checks MerkleRoot against trees computed by hand
// (RFC 6962 shape: leaf = H(0x00||l), node = H(0x01||a||b), odd node
// promoted) and against pinned hex computed independently with Python's
// hashlib for leaves SHA-256(0x00), SHA-256(0x01), SHA-256(0x02).
func TestMerkleRootVectors(t *testing.T) {
	var l [3]crypto.Hash
	for i := range l {
		l[i] = crypto.Sum256([]byte{byte(i)})
	}
	leaf := func(x crypto.Hash) crypto.Hash { return sha([]byte{0}, x[:]) }
	node := func(a, b crypto.Hash) crypto.Hash { return sha([]byte{1}, a[:], b[:]) }
	cases := []struct {
		leaves []crypto.Hash
		byHand crypto.Hash
		pinned string
	}{
		{nil, sha(), "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{l[:1], leaf(l[0]), "0xd9de27625445003d8a9739a851e3ff8d41c0683630b4d63a88327a6aaa37c409"},
		{l[:2], node(leaf(l[0]), leaf(l[1])), "0x604d540f09268b91672ab011394d5266ccd7d4484d0d109411a55848126a1b2c"},
		{l[:3], node(node(leaf(l[0]), leaf(l[1])), leaf(l[2])), "0xd1f13800048f5909d4043fc0c152f6643280cba608b672715e56ce159a20629f"},
	}
	for _, tc := range cases {
		got := ledger.MerkleRoot(tc.leaves)
		if got != tc.byHand || got.String() != tc.pinned {
			t.Errorf("%d leaves: root %s, by hand %s, pinned %s", len(tc.leaves), got, tc.byHand, tc.pinned)
		}
	}
	// Five leaves: ((01)(23))(4) both bottom-up and as RFC 6962 splits it.
	five := make([]crypto.Hash, 5)
	for i := range five {
		five[i] = crypto.Sum256([]byte{byte(i)})
	}
	want := node(node(node(leaf(five[0]), leaf(five[1])), node(leaf(five[2]), leaf(five[3]))), leaf(five[4]))
	if got := ledger.MerkleRoot(five); got != want {
		t.Errorf("5 leaves: root %s, want %s", got, want)
	}
	if five[0] != crypto.Sum256([]byte{0}) {
		t.Errorf("MerkleRoot modified its input")
	}
}

// TestMerkleRootOrderAndDomainSeparation checks that swapping leaves
// changes the root, and that an inner node presented as a leaf (or two
// leaves hashed without their prefixes) does not give the same root.
func TestMerkleRootOrderAndDomainSeparation(t *testing.T) {
	a, b, x := crypto.Sum256([]byte("a")), crypto.Sum256([]byte("b")), crypto.Sum256([]byte("x"))
	if ledger.MerkleRoot([]crypto.Hash{a, b}) == ledger.MerkleRoot([]crypto.Hash{b, a}) {
		t.Errorf("root of [a b] equals root of [b a]")
	}
	if ledger.MerkleRoot([]crypto.Hash{a, b, x}) == ledger.MerkleRoot([]crypto.Hash{a, x, b}) {
		t.Errorf("root of [a b x] equals root of [a x b]")
	}
	if ledger.MerkleRoot([]crypto.Hash{a, a}) == ledger.MerkleRoot([]crypto.Hash{a}) {
		t.Errorf("a duplicated leaf does not change the root")
	}
	two := ledger.MerkleRoot([]crypto.Hash{a, b})
	la, lb := sha([]byte{0}, a[:]), sha([]byte{0}, b[:])
	// The inner node's preimage, taken as one leaf's value, must not give
	// the two-leaf root.
	if ledger.MerkleRoot([]crypto.Hash{sha(la[:], lb[:])}) == two || ledger.MerkleRoot([]crypto.Hash{two}) == two {
		t.Errorf("an inner node passes for a leaf")
	}
	if two == sha(la[:], lb[:]) || two == sha(a[:], b[:]) {
		t.Errorf("inner nodes are hashed without their 0x01 prefix")
	}
	if ledger.MerkleRoot([]crypto.Hash{a}) == a || ledger.MerkleRoot([]crypto.Hash{a}) == crypto.Sum256(a[:]) {
		t.Errorf("a leaf is hashed without its 0x00 prefix")
	}
}

// TestDecodeBlockLimits checks that DecodeBlock refuses oversized input
// and tx counts the input cannot hold before allocating for them.
func TestDecodeBlockLimits(t *testing.T) {
	if _, err := ledger.DecodeBlock(make([]byte, ledger.BlockBytesMax+1)); !errors.Is(err, ledger.ErrBlockTooLarge) {
		t.Fatalf("oversized: err = %v, want ErrBlockTooLarge", err)
	}
	_, good := validChild(t)
	enc := good.Encode()
	hdr := len(ledger.EncodeHeader(&good.Header))
	for _, count := range []uint32{3, ledger.BlockTxsMax, ledger.BlockTxsMax + 1, 1<<32 - 1} {
		b := append([]byte(nil), enc...)
		b[hdr], b[hdr+1], b[hdr+2], b[hdr+3] = byte(count>>24), byte(count>>16), byte(count>>8), byte(count)
		if _, err := ledger.DecodeBlock(b); !errors.Is(err, ledger.ErrMalformed) {
			t.Errorf("tx count %d over 2 txs: err = %v, want ErrMalformed", count, err)
		}
	}
	// A tx length prefix longer than the tx it holds.
	b := append([]byte(nil), enc...)
	b[hdr+4+1]++
	if _, err := ledger.DecodeBlock(b); !errors.Is(err, ledger.ErrMalformed) {
		t.Errorf("tx length off by one: err = %v, want ErrMalformed", err)
	}
}
