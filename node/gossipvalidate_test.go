package node

import (
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/mempool"
	"github.com/synod-chain/synod/p2p"
)

const gossipTestChain = "synod-gossip-test"

// fundedState gives every account a large balance and nonce 0.
type fundedState struct{}

func (fundedState) GetAccount(crypto.Address) (ledger.Account, error) {
	return ledger.Account{Balance: 1 << 40}, nil
}
func (fundedState) StateHash() ledger.LtHash { return ledger.LtHash{} }

func gossipTestKey(t *testing.T, i byte) crypto.PrivateKey {
	t.Helper()
	var seed [crypto.SeedBytes]byte
	copy(seed[:], "gossip-validate")
	seed[crypto.SeedBytes-1] = i
	k, err := crypto.PrivateKeyFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func gossipTestTx(t *testing.T, key byte, fee uint64) *ledger.Tx {
	t.Helper()
	tx := &ledger.Tx{ChainID: gossipTestChain, Nonce: 0, To: crypto.Address{0xee}, Amount: 1, Fee: fee}
	tx.Sign(gossipTestKey(t, key))
	return tx
}

// newGossipTestNode is the part of a Node validateGossipTxs uses, over a
// pool that holds txsMax txs.
func newGossipTestNode(t *testing.T, txsMax int) *Node {
	t.Helper()
	sigs := ledger.NewSigCache(2 * txsMax)
	cfg := mempool.DefaultConfig(gossipTestChain)
	cfg.TxsMax, cfg.SigCache = txsMax, sigs
	pool, err := mempool.New(cfg, fundedState{})
	if err != nil {
		t.Fatal(err)
	}
	return &Node{pool: pool, sigs: sigs, txsArrived: make(chan struct{}, 1),
		metrics: NewMetrics(func() float64 { return 0 }, func() float64 { return 0 })}
}

// TestGossipValidatorRejectsBadSignatureWhenPoolFull: a full pool turns a
// cheap tx away before checking its signature. In a gossip message that
// also carries a tx the pool takes, that tx must still be judged: the
// message is forwarded, and a peer whose pool is not full would find the
// forged signature and punish this (honest) node for forwarding it.
func TestGossipValidatorRejectsBadSignatureWhenPoolFull(t *testing.T) {
	n := newGossipTestNode(t, 1)
	if err := n.pool.Add(gossipTestTx(t, 0, 1)); err != nil {
		t.Fatal(err)
	}
	good := gossipTestTx(t, 1, 100) // outbids the pending tx
	forged := gossipTestTx(t, 2, 0)
	forged.Signature[0] ^= 1
	if err := ledger.CheckTx(gossipTestChain, forged); err == nil {
		t.Fatal("forged tx verifies")
	}
	// A peer with room judges the forged tx provably invalid.
	roomy := newGossipTestNode(t, 10)
	if errs := roomy.validateGossipTxs([]*ledger.Tx{forged}); !p2p.IsInvalid(errs[0]) {
		t.Fatalf("pool with room: forged tx verdict %v, want invalid", errs[0])
	}

	errs := n.validateGossipTxs([]*ledger.Tx{good, forged})
	if errs[0] != nil {
		t.Fatalf("good tx: %v", errs[0])
	}
	if !p2p.IsInvalid(errs[1]) {
		t.Fatalf("full pool: forged tx verdict %v, want invalid (else the message is forwarded)", errs[1])
	}
}

// TestGossipValidatorSkipsSignaturesOfIgnoredMessage: when nothing in a
// message is taken, the message goes no further, and a full pool spends
// no signature check on it.
func TestGossipValidatorSkipsSignaturesOfIgnoredMessage(t *testing.T) {
	n := newGossipTestNode(t, 1)
	if err := n.pool.Add(gossipTestTx(t, 0, 1)); err != nil {
		t.Fatal(err)
	}
	forged := gossipTestTx(t, 2, 0)
	forged.Signature[0] ^= 1
	errs := n.validateGossipTxs([]*ledger.Tx{forged})
	if p2p.IsInvalid(errs[0]) {
		t.Fatalf("forged tx in an ignored message: %v, want a quiet refusal", errs[0])
	}
}

// TestGossipValidatorChecksAccountRefusedTxsItForwards: the pool refuses a
// tx its sender's account cannot run (here a nonce far past the window)
// before checking its signature. In a message that also carries a tx the
// pool takes, and so is forwarded, such a tx must still be judged, as a
// peer whose state lets it in would; alone, it costs no check and no
// penalty, however often a peer replays it.
func TestGossipValidatorChecksAccountRefusedTxsItForwards(t *testing.T) {
	n := newGossipTestNode(t, 10)
	farAhead := func(key byte) *ledger.Tx {
		tx := &ledger.Tx{ChainID: gossipTestChain, Nonce: 1 << 20, To: crypto.Address{0xee}, Amount: 1, Fee: 1}
		tx.Sign(gossipTestKey(t, key))
		return tx
	}
	replayed, forged := farAhead(1), farAhead(2)
	forged.Signature[0] ^= 1

	errs := n.validateGossipTxs([]*ledger.Tx{replayed, forged})
	if p2p.IsInvalid(errs[0]) || p2p.IsInvalid(errs[1]) {
		t.Fatalf("nothing taken: verdicts %v, want quiet refusals", errs)
	}
	if n.sigs.Contains(replayed.Hash()) {
		t.Fatal("a tx its account refuses had its signature checked")
	}

	errs = n.validateGossipTxs([]*ledger.Tx{gossipTestTx(t, 3, 1), forged})
	if errs[0] != nil {
		t.Fatalf("good tx: %v", errs[0])
	}
	if !p2p.IsInvalid(errs[1]) {
		t.Fatalf("forwarded message: forged tx verdict %v, want invalid", errs[1])
	}
}
