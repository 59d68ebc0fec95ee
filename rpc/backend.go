package rpc

import (
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// ChainReader reads the committed chain. *ledger.Store implements it as it
// is; a lookup of something that does not exist must return an error
// wrapping ledger.ErrStoreNotFound (the store does), which the API turns
// into a null result rather than an error.
type ChainReader interface {
	// Head is the committed head's header.
	Head() ledger.Header
	BlockByHeight(height uint64) (*ledger.Block, error)
	BlockByHash(h crypto.Hash) (*ledger.Block, error)
	// Certificate is the commit certificate of the block at height; the
	// genesis block has none (ErrStoreNotFound).
	Certificate(height uint64) (*ledger.CommitCertificate, error)
	// Tx is a committed tx with its block height and index in the block.
	Tx(h crypto.Hash) (*ledger.Tx, uint64, int, error)
	// GetAccount is the account at the head (the empty account if none).
	GetAccount(addr crypto.Address) (ledger.Account, error)
	// AccountAt is the account as it was after block height.
	AccountAt(addr crypto.Address, height uint64) (ledger.Account, error)
}

// TxPool is the node's mempool as the API sees it.
type TxPool interface {
	// SubmitTx validates tx (ledger.CheckTx, nonce and balance against the
	// committed state and the sender's pending txs, pool limits), adds it
	// to the pool and gossips it. A refusal wraps a ledger.ErrTx… sentinel,
	// ledger.ErrMalformed, one of this package's sentinels (ErrMempoolFull,
	// ErrTxDuplicate, ErrTxUnderpriced, ErrTxSenderLimit), or implements
	// RPCCoder; errors.go maps each to its code.
	SubmitTx(tx *ledger.Tx) error
	// PendingTx is a tx waiting in the pool.
	PendingTx(h crypto.Hash) (*ledger.Tx, bool)
	// PendingNonce is the nonce after addr's last pending tx, or 0 if the
	// pool holds none of addr's; the API answers max(this, committed nonce).
	// An error (the account could not be read) is answered as one, never
	// as a guessed nonce a wallet would sign with.
	PendingNonce(addr crypto.Address) (uint64, error)
}

// BatchSubmitter is optionally implemented by a Backend that admits many
// txs at once more cheaply than one by one (signatures verified in one
// batch, one fsync, one gossip message). The synod_sendRawTransaction
// calls of one JSON-RPC batch then reach it in one SubmitTxs call, which
// returns one verdict per tx, in order, each as SubmitTx would.
type BatchSubmitter interface {
	SubmitTxs(txs []*ledger.Tx) []error
}

// NodeInfo describes the node.
type NodeInfo interface {
	// ChainID is the chain the node runs; it never changes.
	ChainID() string
	Status() NodeStatus
	Validators() []ValidatorInfo
	// Healthy reports whether the node is committing blocks; when it is
	// not (stalled, syncing, shutting down) reason says why.
	Healthy() (ok bool, reason string)
}

// Events delivers committed blocks.
type Events interface {
	// SubscribeBlocks returns a bounded channel that receives each block
	// after it is committed (after ledger's ApplyBlock), in height order,
	// and a cancel func that ends the subscription and releases it. The
	// node never blocks on it: the server reads it from one goroutine and
	// fans out to WebSocket subscribers with queues of their own. If the
	// node closes the channel (shutdown), subscriptions end.
	SubscribeBlocks() (ch <-chan *ledger.Block, cancel func())
}

// Backend is everything the server needs from a node.
type Backend interface {
	ChainReader
	TxPool
	NodeInfo
	Events
}

// OMReporter is optional: a Backend that also implements it serves
// synod_omReport (the Oral Messages verification report of a stable
// checkpoint); without it the method does not exist (-32601). The result
// is encoded with encoding/json as it is; a nil result with a nil error is
// null (no report at that height).
type OMReporter interface {
	OMReport(at BlockTag) (any, error)
}

// NodeStatus is the result of synod_status.
type NodeStatus struct {
	ChainID string `json:"chainId"`
	// NodeID is the node's libp2p peer id.
	NodeID  string `json:"nodeId"`
	Moniker string `json:"moniker"`
	// Height is the committed head's height.
	Height uint64 `json:"height"`
	// View is the consensus view the node is in.
	View uint64 `json:"view"`
	// Primary is the index (in synod_validators order) of View's primary.
	Primary     int  `json:"primary"`
	Validators  int  `json:"validators"`
	F           int  `json:"f"`
	Peers       int  `json:"peers"`
	Syncing     bool `json:"syncing"`
	MempoolSize int  `json:"mempoolSize"`
}

// ValidatorInfo is one entry of synod_validators, in validator-set order.
type ValidatorInfo struct {
	Name      string           `json:"name"`
	Address   crypto.Address   `json:"address"`
	PublicKey crypto.PublicKey `json:"publicKey"`
	// PeerID is the validator's libp2p peer id, empty if unknown.
	PeerID string `json:"peerId"`
}
