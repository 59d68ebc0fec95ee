package client

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
)

// SendTransaction submits a signed tx (synod_sendRawTransaction) and
// returns its hash. A refusal is an *Error with one of the rpc.CodeTx…
// codes.
func (c *Client) SendTransaction(ctx context.Context, tx *ledger.Tx) (crypto.Hash, error) {
	return c.SendRawTransaction(ctx, tx.Encode())
}

// SendRawTransaction submits a tx's canonical encoding.
func (c *Client) SendRawTransaction(ctx context.Context, raw []byte) (crypto.Hash, error) {
	var h crypto.Hash
	err := c.Call(ctx, &h, "synod_sendRawTransaction", "0x"+hex.EncodeToString(raw))
	return h, err
}

// Transaction returns a committed or pending tx, or nil if the node
// knows neither (synod_getTransaction).
func (c *Client) Transaction(ctx context.Context, hash crypto.Hash) (*rpc.Transaction, error) {
	var tx *rpc.Transaction
	err := c.Call(ctx, &tx, "synod_getTransaction", hash)
	return tx, err
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
	err := c.Call(ctx, &b, "synod_getBlockByNumber", at, full)
	return b, err
}

// BlockByHash returns the block with hash h, or nil (synod_getBlockByHash).
func (c *Client) BlockByHash(ctx context.Context, h crypto.Hash, full bool) (*rpc.Block, error) {
	var b *rpc.Block
	err := c.Call(ctx, &b, "synod_getBlockByHash", h, full)
	return b, err
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
	return subscribe[rpc.BlockHeader](ctx, c, false, rpc.SubscriptionNewBlocks)
}

// SubscribeTx delivers one receipt when the tx with hash h commits (at
// once if it already has), then closes C with a nil Err (WebSocket only).
func (c *Client) SubscribeTx(ctx context.Context, h crypto.Hash) (*Subscription[rpc.Transaction], error) {
	return subscribe[rpc.Transaction](ctx, c, true, rpc.SubscriptionTx, h)
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
// cannot slip between submitting and subscribing.
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
