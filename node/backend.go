package node

import (
	"errors"
	"fmt"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/mempool"
	"github.com/synod-chain/synod/rpc"
)

// stallAfter: /health reports a stall when no block committed for this
// long while the network should be making progress.
const stallAfter = 30 * time.Second

// backend adapts a Node to rpc.Backend. The chain reads go straight to the
// store, which is safe for concurrent readers, through the node's store
// gate: an RPC call or a WebSocket hook that outlives the server's
// shutdown gets errNodeClosing instead of a closed store. (Head is kept
// in memory.)
type backend struct{ n *Node }

var _ rpc.Backend = backend{}

func (b backend) Head() ledger.Header { return b.n.store.Head() }

func (b backend) BlockByHeight(h uint64) (*ledger.Block, error) {
	if !b.n.storeReaders.enter() {
		return nil, errNodeClosing
	}
	defer b.n.storeReaders.leave()
	return b.n.store.BlockByHeight(h)
}

func (b backend) BlockByHash(h crypto.Hash) (*ledger.Block, error) {
	if !b.n.storeReaders.enter() {
		return nil, errNodeClosing
	}
	defer b.n.storeReaders.leave()
	return b.n.store.BlockByHash(h)
}

func (b backend) Certificate(h uint64) (*ledger.CommitCertificate, error) {
	if !b.n.storeReaders.enter() {
		return nil, errNodeClosing
	}
	defer b.n.storeReaders.leave()
	return b.n.store.Certificate(h)
}

func (b backend) Tx(h crypto.Hash) (*ledger.Tx, uint64, int, error) {
	if !b.n.storeReaders.enter() {
		return nil, 0, 0, errNodeClosing
	}
	defer b.n.storeReaders.leave()
	return b.n.store.Tx(h)
}

func (b backend) GetAccount(a crypto.Address) (ledger.Account, error) {
	if !b.n.storeReaders.enter() {
		return ledger.Account{}, errNodeClosing
	}
	defer b.n.storeReaders.leave()
	return b.n.store.GetAccount(a)
}

func (b backend) AccountAt(a crypto.Address, h uint64) (ledger.Account, error) {
	if !b.n.storeReaders.enter() {
		return ledger.Account{}, errNodeClosing
	}
	defer b.n.storeReaders.leave()
	acct, err := b.n.store.AccountAt(a, h)
	if errors.Is(err, ledger.ErrStoreHistoryPruned) {
		return acct, &rpc.Error{Code: rpc.CodeHistoryPruned, Message: fmt.Sprintf(
			"state at height %d is not kept: this node keeps no account history (store.prune_history) and answers only for the head, %d",
			h, b.n.store.Head().Height)}
	}
	return acct, err
}

// SubmitTx adds a wallet's tx to the mempool, journals it and gossips it,
// in a group with whatever other wallets submit meanwhile (txIngress).
func (b backend) SubmitTx(tx *ledger.Tx) error {
	if err := b.n.ingress.submit(tx); err != nil {
		return b.refusal(tx, err)
	}
	return nil
}

// SubmitTxs admits a JSON-RPC batch's txs as one group.
func (b backend) SubmitTxs(txs []*ledger.Tx) []error {
	errs := b.n.ingress.submitMany(txs)
	for i, err := range errs {
		if err != nil {
			errs[i] = b.refusal(txs[i], err)
		}
	}
	return errs
}

// refusal counts a tx the node did not admit and returns the error its
// wallet gets; a failure of the node's own is logged here, as the wallet
// gets none of its details.
func (b backend) refusal(tx *ledger.Tx, err error) error {
	b.n.metrics.txsRejected.WithLabelValues("rpc").Inc()
	out := rpcError(err)
	if out == errAdmitFailed {
		b.n.log.Error("rpc: could not admit a wallet's tx", "tx", tx.Hash().Short(), "err", err)
	}
	return out
}

var _ rpc.BatchSubmitter = backend{}

func (b backend) PendingTx(h crypto.Hash) (*ledger.Tx, bool) { return b.n.pool.Get(h) }

// PendingNonce reads the account from the store when the pool holds none
// of its txs.
func (b backend) PendingNonce(a crypto.Address) (uint64, error) {
	if !b.n.storeReaders.enter() {
		return 0, errNodeClosing
	}
	defer b.n.storeReaders.leave()
	return b.n.pool.PendingNonce(a)
}

func (b backend) ChainID() string { return b.n.genesis.ChainID }

func (b backend) Status() rpc.NodeStatus {
	view, _ := b.n.driver.view()
	txs, _ := b.n.pool.Size()
	return rpc.NodeStatus{
		ChainID: b.n.genesis.ChainID, NodeID: b.n.host.ID().String(), Moniker: b.n.cfg.Moniker,
		Height: b.n.store.Head().Height, View: view, Primary: b.n.vals.Primary(view),
		Validators: b.n.vals.Len(), F: b.n.vals.F(), Peers: len(b.n.host.Peers()),
		Syncing: b.n.isSyncing(), MempoolSize: txs,
	}
}

func (b backend) Validators() []rpc.ValidatorInfo {
	out := make([]rpc.ValidatorInfo, b.n.vals.Len())
	for i, v := range b.n.vals.All() {
		out[i] = rpc.ValidatorInfo{Name: v.Name, Address: v.Address(), PublicKey: v.PublicKey}
		if id := b.n.peerOf[i]; id != "" {
			out[i].PeerID = id.String()
		}
	}
	return out
}

// Healthy: committing recently and not syncing. A fresh chain counts from
// the node's start.
func (b backend) Healthy() (bool, string) {
	if b.n.isSyncing() {
		return false, "syncing"
	}
	last := b.n.driver.lastCommitTime()
	if last.IsZero() {
		last = b.n.startedAt
	}
	if since := time.Since(last); since > stallAfter {
		return false, fmt.Sprintf("stalled: no block committed for %s", since.Round(time.Second))
	}
	return true, ""
}

func (b backend) SubscribeBlocks() (<-chan *ledger.Block, func()) { return b.n.events.subscribe() }

// errAdmitFailed answers a tx the node failed to admit for a reason of its
// own (the journal's write or fsync, a state read). It is not a refusal:
// the tx may be in the pool and gossiped all the same, so the wallet is
// told to check before it sends again, not that the tx was rejected.
var errAdmitFailed = &rpc.Error{Code: rpc.CodeInternal,
	Message: "internal error: the node failed to store the tx (see its log); it may be pending all the same: check synod_getTransaction before sending it again"}

// rpcError wraps a mempool refusal in the rpc sentinel that carries its
// JSON-RPC code; ledger's tx errors map by themselves. Any error that is
// not a refusal is the node's own failure, errAdmitFailed.
func rpcError(err error) error {
	for _, m := range []struct{ pool, api error }{
		{mempool.ErrDuplicate, rpc.ErrTxDuplicate},
		{mempool.ErrReplacementUnderpriced, rpc.ErrTxUnderpriced},
		{mempool.ErrSenderFull, rpc.ErrTxSenderLimit},
		{mempool.ErrMempoolFull, rpc.ErrMempoolFull},
		{mempool.ErrNonceTooFarAhead, ledger.ErrTxNonceGap},
	} {
		if errors.Is(err, m.pool) {
			return fmt.Errorf("%w: %w", m.api, err)
		}
	}
	if !rpc.IsTxRefusal(err) {
		return errAdmitFailed
	}
	return err
}
