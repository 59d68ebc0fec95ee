package rpc_test

import (
	"bytes"
	"testing"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/rpctest"
)

func TestOversizedMemoAnswersTxTooLarge(t *testing.T) {
	// Goal: a wallet that sends a signed tx whose memo is over
	// TxMemoBytesMax (the whole tx still under TxBytesMax) gets the code
	// documented for it, CodeTxTooLarge, not CodeTxMalformed; method: one
	// memo byte over the limit, through the real decoder.
	f := newChain(t)
	_, url := startServer(t, rpc.Config{}, f.backend)
	tx := &ledger.Tx{ChainID: rpctest.ChainID, Nonce: 0, To: rpctest.Address(0), Amount: 1, Fee: 1,
		Memo: bytes.Repeat([]byte{'m'}, ledger.TxMemoBytesMax+1)}
	tx.Sign(rpctest.Key(2))
	if n := len(tx.Encode()); n > ledger.TxBytesMax {
		t.Fatalf("test tx is %d bytes, over TxBytesMax", n)
	}
	r := call(t, url, "synod_sendRawTransaction", rawTx(tx))
	if r.Error == nil || r.Error.Code != rpc.CodeTxTooLarge {
		t.Fatalf("oversized memo: got %+v, want code %d", r.Error, rpc.CodeTxTooLarge)
	}
}
