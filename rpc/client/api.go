package client

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
)

// ErrWrongAnswer is wrapped by the error of a call the node answered with
// something other than what was asked for: another tx's hash, a receipt
// or a block of another tx or block, a tx whose contents do not hash to
// its hash. A correct node never does; taking such an answer would show
// a wallet a transfer that is not its own.
var ErrWrongAnswer = errors.New("rpc client: the node answered for something else")

// SendTransaction submits a signed tx (synod_sendRawTransaction) and
// returns its hash. A refusal is an *Error with one of the rpc.CodeTx…
// codes.
func (c *Client) SendTransaction(ctx context.Context, tx *ledger.Tx) (crypto.Hash, error) {
	return c.SendRawTransaction(ctx, tx.Encode())
}

// SendRawTransaction submits a tx's canonical encoding; the hash the node
// returns is checked against the encoding's.
func (c *Client) SendRawTransaction(ctx context.Context, raw []byte) (crypto.Hash, error) {
	var h crypto.Hash
	if err := c.Call(ctx, &h, "synod_sendRawTransaction", "0x"+hex.EncodeToString(raw)); err != nil {
		return h, err
	}
	if want := crypto.Sum256(raw); h != want {
		return want, fmt.Errorf("%w: tx %s answered with hash %s", ErrWrongAnswer, want, h)
	}
	return h, nil
}

// Transaction returns a committed or pending tx, or nil if the node
// knows neither (synod_getTransaction). The tx is checked to be the one
// asked for: its contents hash to hash.
func (c *Client) Transaction(ctx context.Context, hash crypto.Hash) (*rpc.Transaction, error) {
	var tx *rpc.Transaction
	if err := c.Call(ctx, &tx, "synod_getTransaction", hash); err != nil {
		return nil, err
	}
	if tx != nil {
		if err := checkTx(tx, hash); err != nil {
			return nil, err
		}
	}
	return tx, nil
}

// checkTx checks that t, the node's answer for the tx with hash want, is
// that tx: its hash, and the hash of the tx its fields make, are want,
// and its sender is its key's address.
func checkTx(t *rpc.Transaction, want crypto.Hash) error {
	tx := ledger.Tx{ChainID: t.ChainID, From: t.PublicKey, Nonce: t.Nonce, To: t.To,
		Amount: uint64(t.Amount), Fee: uint64(t.Fee), Memo: t.Memo, Signature: t.Signature}
	switch got := tx.Hash(); {
	case t.Hash != want:
		return fmt.Errorf("%w: tx %s answered with tx %s", ErrWrongAnswer, want, t.Hash)
	case got != want:
		return fmt.Errorf("%w: tx %s answered with contents that hash to %s", ErrWrongAnswer, want, got)
	case t.From != tx.Sender():
		return fmt.Errorf("%w: tx %s answered with sender %s for key %s", ErrWrongAnswer, want, t.From, t.PublicKey)
	}
	return nil
}

// checkReceipt checks a "tx" subscription's notification: the committed
// tx asked for, with the place it committed at.
func checkReceipt(r *rpc.Transaction, want crypto.Hash) error {
	if err := checkTx(r, want); err != nil {
		return err
	}
	if r.Status != rpc.TxStatusCommitted || r.Height == nil || r.Index == nil || r.BlockHash == nil {
		return fmt.Errorf("%w: receipt of tx %s with status %q and no height, index or block", ErrWrongAnswer, want, r.Status)
	}
	return nil
}

// Balance returns addr's balance at the head or a height
// (synod_getBalance).
func (c *Client) Balance(ctx context.Context, addr crypto.Address, at rpc.BlockTag) (uint64, error) {
	var d rpc.Decimal
	err := c.Call(ctx, &d, "synod_getBalance", addr, at)
	return uint64(d), err
}

// Nonce returns the next nonce addr should use: from the committed state
// (rpc.NonceLatest) or counting its pending txs (rpc.NoncePending).
func (c *Client) Nonce(ctx context.Context, addr crypto.Address, tag string) (uint64, error) {
	var n uint64
	err := c.Call(ctx, &n, "synod_getNonce", addr, tag)
	return n, err
}

// BlockNumber returns the committed head's height (synod_blockNumber).
func (c *Client) BlockNumber(ctx context.Context) (uint64, error) {
	var n uint64
	err := c.Call(ctx, &n, "synod_blockNumber")
	return n, err
}

// BlockByNumber returns the block at a height or the head, with whole txs
// if full; nil if there is none (synod_getBlockByNumber).
func (c *Client) BlockByNumber(ctx context.Context, at rpc.BlockTag, full bool) (*rpc.Block, error) {
	var b *rpc.Block
	if err := c.Call(ctx, &b, "synod_getBlockByNumber", at, full); err != nil {
		return nil, err
	}
	if b != nil && !at.Latest && b.Height != at.Height {
		return nil, fmt.Errorf("%w: block %d answered with block %d", ErrWrongAnswer, at.Height, b.Height)
	}
	return b, nil
}

// BlockByHash returns the block with hash h, or nil (synod_getBlockByHash).
func (c *Client) BlockByHash(ctx context.Context, h crypto.Hash, full bool) (*rpc.Block, error) {
	var b *rpc.Block
	if err := c.Call(ctx, &b, "synod_getBlockByHash", h, full); err != nil {
		return nil, err
	}
	if b != nil && b.Hash != h {
		return nil, fmt.Errorf("%w: block %s answered with block %s", ErrWrongAnswer, h, b.Hash)
	}
	return b, nil
}

// Status returns the node's status (synod_status).
func (c *Client) Status(ctx context.Context) (*rpc.NodeStatus, error) {
	var s rpc.NodeStatus
	if err := c.Call(ctx, &s, "synod_status"); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validators returns the validator set (synod_validators).
func (c *Client) Validators(ctx context.Context) ([]rpc.ValidatorInfo, error) {
	var vs []rpc.ValidatorInfo
	err := c.Call(ctx, &vs, "synod_validators")
	return vs, err
}

// OMReport returns the node's OM verification report at a height or the
// latest, as raw JSON (null if none). Nodes without OM verification answer
// rpc.CodeMethodNotFound.
func (c *Client) OMReport(ctx context.Context, at rpc.BlockTag) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.Call(ctx, &raw, "synod_omReport", at)
	return raw, err
}

// SubscribeNewBlocks delivers the header of each block the node commits
// (WebSocket only).
func (c *Client) SubscribeNewBlocks(ctx context.Context) (*Subscription[rpc.BlockHeader], error) {
	return subscribe[rpc.BlockHeader](ctx, c, false, nil, rpc.SubscriptionNewBlocks)
}

// SubscribeTx delivers one receipt when the tx with hash h commits (at
// once if it already has), then closes C with a nil Err (WebSocket only).
// A receipt that is not the committed tx h ends the subscription with an
// ErrWrongAnswer instead.
func (c *Client) SubscribeTx(ctx context.Context, h crypto.Hash) (*Subscription[rpc.Transaction], error) {
	check := func(r *rpc.Transaction) error { return checkReceipt(r, h) }
	return subscribe(ctx, c, true, check, rpc.SubscriptionTx, h)
}

// WaitForTx waits until the tx with hash h commits and returns its
// receipt, or fails when ctx ends or the connection is lost.
func (c *Client) WaitForTx(ctx context.Context, h crypto.Hash) (*rpc.Transaction, error) {
	sub, err := c.SubscribeTx(ctx, h)
	if err != nil {
		return nil, err
	}
	return AwaitReceipt(ctx, sub)
}

// AwaitReceipt waits for the receipt of a SubscribeTx subscription; a
// caller subscribes first, then submits, then awaits, so the commit
// cannot slip between submitting and subscribing. The receipt is the
// committed tx subscribed to, with Height, Index and BlockHash set.
func AwaitReceipt(ctx context.Context, sub *Subscription[rpc.Transaction]) (*rpc.Transaction, error) {
	select {
	case r, ok := <-sub.C:
		if !ok {
			if err := <-sub.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("rpc client: tx subscription ended without a receipt")
		}
		return &r, nil
	case <-ctx.Done():
		uctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = sub.Unsubscribe(uctx)
		return nil, ctx.Err()
	}
}
