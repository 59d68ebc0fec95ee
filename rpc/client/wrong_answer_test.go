package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// lyingBackend answers every committed-tx lookup with the one tx it holds,
// as a buggy or hostile node might.
type lyingBackend struct {
	*rpctest.Backend
	tx *ledger.Tx
}

func (b lyingBackend) Tx(crypto.Hash) (*ledger.Tx, uint64, int, error) { return b.tx, 1, 0, nil }

func TestAnswersForAnotherTxAreRefused(t *testing.T) {
	// Goal: the client does not hand its caller a tx, a receipt or a hash
	// for another tx than the one asked about, so a wallet never shows
	// someone else's transfer as its own; method: a node whose lookups
	// all answer with txA, asked for another tx by Transaction, WaitForTx
	// and SubscribeTx.
	n := newNode(t)
	liar := startNode(t, lyingBackend{n.backend, n.txA}, n.backend)
	other := rpctest.Transfer(1, 0, rpctest.Address(2), 5, 1).Hash()
	for name, c := range clients(t, liar) {
		if tx, err := c.Transaction(ctxT(t), other); !errors.Is(err, client.ErrWrongAnswer) {
			t.Errorf("%s: Transaction(another tx) = %+v, %v", name, tx, err)
		}
	}
	ws := clients(t, liar)["ws"]
	if r, err := ws.WaitForTx(ctxT(t), other); !errors.Is(err, client.ErrWrongAnswer) {
		t.Errorf("WaitForTx(another tx) = %+v, %v", r, err)
	}
	// The honest node's answers pass the same checks.
	for name, c := range clients(t, n) {
		if tx, err := c.Transaction(ctxT(t), n.txA.Hash()); err != nil || tx == nil {
			t.Errorf("%s: Transaction(txA) from an honest node = %+v, %v", name, tx, err)
		}
	}
}

func TestForgedTxContentsAndHashesAreRefused(t *testing.T) {
	// Goal: a tx whose hash is the one asked for but whose contents are
	// not (another amount), a submission answered with another hash, and
	// a block of another hash or height are refused; method: a fake
	// server with those answers.
	tx := rpctest.Transfer(0, 0, rpctest.Address(1), 1000, 10)
	forged := rpc.NewPendingTransaction(tx)
	forged.Amount = 1
	result, err := json.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	httpURL, wsURL := fakeServer(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"result":%s}`, result))
	for _, url := range []string{httpURL, wsURL} {
		c, err := client.Dial(ctxT(t), url)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Transaction(ctxT(t), tx.Hash()); !errors.Is(err, client.ErrWrongAnswer) {
			t.Errorf("%s: forged tx accepted: %+v, %v", url, got, err)
		}
		c.Close()
	}
	httpURL, _ = fakeServer(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"result":"%s"}`, crypto.Hash{9}))
	c, err := client.Dial(ctxT(t), httpURL)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.SendTransaction(ctxT(t), tx); !errors.Is(err, client.ErrWrongAnswer) {
		t.Errorf("SendTransaction answered with another hash: %s, %v", h, err)
	}
	block, err := json.Marshal(rpc.Block{BlockHeader: rpc.BlockHeader{Hash: crypto.Hash{7}, Height: 3}})
	if err != nil {
		t.Fatal(err)
	}
	httpURL, _ = fakeServer(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"result":%s}`, block))
	if b, err := client.NewHTTP(httpURL, nil).BlockByHash(ctxT(t), crypto.Hash{8}, false); !errors.Is(err, client.ErrWrongAnswer) {
		t.Errorf("BlockByHash answered with another block: %+v, %v", b, err)
	}
	if b, err := client.NewHTTP(httpURL, nil).BlockByNumber(ctxT(t), rpc.AtHeight(4), false); !errors.Is(err, client.ErrWrongAnswer) {
		t.Errorf("BlockByNumber answered with another block: %+v, %v", b, err)
	}
}
