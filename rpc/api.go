package rpc

import (
	"context"
	"errors"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Namespace is the namespace of every method of the wallet API.
const Namespace = "synod"

// Nonce tags of synod_getNonce.
const (
	NonceLatest  = "latest"
	NoncePending = "pending"
)

// synodAPI serves the "synod" namespace from a Backend.
type synodAPI struct {
	b   Backend
	hub *blockHub
	cfg Config
}

// batchMethods lists the namespace's methods with a batch form.
func (api *synodAPI) batchMethods() map[string]BatchMethod {
	m := map[string]BatchMethod{}
	if _, ok := api.b.(BatchSubmitter); ok {
		m["sendRawTransaction"] = api.sendRawTransactions
	}
	return m
}

// methods lists the namespace's methods; synod_omReport only if the
// backend can report.
func (api *synodAPI) methods() map[string]Method {
	m := map[string]Method{
		"sendRawTransaction": api.sendRawTransaction,
		"getTransaction":     api.getTransaction,
		"getBalance":         api.getBalance,
		"getNonce":           api.getNonce,
		"blockNumber":        api.blockNumber,
		"getBlockByNumber":   api.getBlockByNumber,
		"getBlockByHash":     api.getBlockByHash,
		"status":             api.status,
		"validators":         api.validators,
		"subscribe":          api.subscribe,
		"unsubscribe":        api.unsubscribe,
	}
	if om, ok := api.b.(OMReporter); ok {
		m["omReport"] = func(ctx context.Context, c *Call) (any, error) { return omReport(om, c) }
	}
	return m
}

// sendRawTransaction: [hexTx] → tx hash.
func (api *synodAPI) sendRawTransaction(_ context.Context, c *Call) (any, error) {
	tx, err := parseRawTx(c)
	if err != nil {
		return nil, err
	}
	if err := api.b.SubmitTx(tx); err != nil {
		return nil, txRejectionError(err)
	}
	return tx.Hash(), nil
}

// sendRawTransactions is sendRawTransaction's batch form, for a backend
// that admits txs in bulk: the txs that parse go to SubmitTxs in one call.
func (api *synodAPI) sendRawTransactions(_ context.Context, calls []*Call) []CallResult {
	out := make([]CallResult, len(calls))
	var txs []*ledger.Tx
	var at []int
	for i, c := range calls {
		tx, err := parseRawTx(c)
		if err != nil {
			out[i].Err = err
			continue
		}
		txs = append(txs, tx)
		at = append(at, i)
	}
	if len(txs) == 0 {
		return out
	}
	errs := api.b.(BatchSubmitter).SubmitTxs(txs)
	for k, i := range at {
		if errs[k] != nil {
			out[i].Err = txRejectionError(errs[k])
		} else {
			out[i].Result = txs[k].Hash()
		}
	}
	return out
}

// parseRawTx reads sendRawTransaction's one parameter into a tx.
func parseRawTx(c *Call) (*ledger.Tx, error) {
	if err := c.Params.count(1, 1); err != nil {
		return nil, err
	}
	s, perr := c.Params.String(0, "hexTx")
	if perr != nil {
		return nil, perr
	}
	// Refuse an oversized string before decoding it.
	if len(s) > 2+2*ledger.TxBytesMax {
		return nil, &Error{Code: CodeTxTooLarge, Message: ledger.ErrTxTooLarge.Error()}
	}
	raw, err := decodeHex(s)
	if err != nil {
		return nil, errInvalidParams("param 0 (hexTx): %v", err)
	}
	tx, err := ledger.DecodeTx(raw)
	if err != nil {
		return nil, txRejectionError(err)
	}
	return tx, nil
}

// getTransaction: [txHash] → Transaction, or null if unknown.
func (api *synodAPI) getTransaction(_ context.Context, c *Call) (any, error) {
	if err := c.Params.count(1, 1); err != nil {
		return nil, err
	}
	h, perr := c.Params.Hash(0, "txHash")
	if perr != nil {
		return nil, perr
	}
	t, err := api.lookupTx(h)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, nil // a typed nil would encode as null too; be explicit
	}
	return t, nil
}

// lookupTx finds a committed or pending tx; nil if neither.
func (api *synodAPI) lookupTx(h crypto.Hash) (*Transaction, error) {
	tx, height, index, err := api.b.Tx(h)
	switch {
	case err == nil:
		b, err := api.b.BlockByHeight(height)
		if err != nil {
			return nil, backendError("block of tx", err)
		}
		return NewCommittedTransaction(tx, height, index, b.Hash()), nil
	case !errors.Is(err, ledger.ErrStoreNotFound):
		return nil, backendError("tx", err)
	}
	if tx, ok := api.b.PendingTx(h); ok {
		return NewPendingTransaction(tx), nil
	}
	return nil, nil
}

// getBalance: [address, blockTag?] → decimal string.
func (api *synodAPI) getBalance(_ context.Context, c *Call) (any, error) {
	if err := c.Params.count(1, 2); err != nil {
		return nil, err
	}
	addr, perr := c.Params.Address(0, "address")
	if perr != nil {
		return nil, perr
	}
	tag, perr := c.Params.BlockTag(1, "blockTag")
	if perr != nil {
		return nil, perr
	}
	acct, err := api.account(addr, tag)
	if err != nil {
		return nil, err
	}
	return Decimal(acct.Balance), nil
}

func (api *synodAPI) account(addr crypto.Address, tag BlockTag) (ledger.Account, error) {
	if tag.Latest {
		a, err := api.b.GetAccount(addr)
		if err != nil {
			return ledger.Account{}, backendError("account", err)
		}
		return a, nil
	}
	if head := api.b.Head().Height; tag.Height > head {
		return ledger.Account{}, errInvalidParams("height %d is above the head %d", tag.Height, head)
	}
	a, err := api.b.AccountAt(addr, tag.Height)
	if err != nil {
		return ledger.Account{}, backendError("account", err)
	}
	return a, nil
}

// getNonce: [address, "latest"|"pending"?] → the next nonce to use.
func (api *synodAPI) getNonce(_ context.Context, c *Call) (any, error) {
	if err := c.Params.count(1, 2); err != nil {
		return nil, err
	}
	addr, perr := c.Params.Address(0, "address")
	if perr != nil {
		return nil, perr
	}
	tag := NonceLatest
	if c.Params.has(1) {
		if tag, perr = c.Params.String(1, "tag"); perr != nil {
			return nil, perr
		}
	}
	if tag != NonceLatest && tag != NoncePending {
		return nil, errInvalidParams(`param 1 (tag) must be "latest" or "pending"`)
	}
	acct, err := api.b.GetAccount(addr)
	if err != nil {
		return nil, backendError("account", err)
	}
	if tag == NoncePending {
		pending, err := api.b.PendingNonce(addr)
		if err != nil {
			return nil, backendError("pending nonce", err)
		}
		return max(acct.Nonce, pending), nil
	}
	return acct.Nonce, nil
}

// blockNumber: [] → the head's height.
func (api *synodAPI) blockNumber(_ context.Context, c *Call) (any, error) {
	if err := c.Params.count(0, 0); err != nil {
		return nil, err
	}
	return api.b.Head().Height, nil
}

// getBlockByNumber: [height|"latest", fullTxs?] → Block or null.
func (api *synodAPI) getBlockByNumber(_ context.Context, c *Call) (any, error) {
	if err := c.Params.count(1, 2); err != nil {
		return nil, err
	}
	if !c.Params.has(0) {
		return nil, errInvalidParams(`param 0 (height) must be "latest" or a height`)
	}
	tag, perr := c.Params.BlockTag(0, "height")
	if perr != nil {
		return nil, perr
	}
	full, perr := c.Params.Bool(1, "fullTxs", false)
	if perr != nil {
		return nil, perr
	}
	height := tag.Height
	if tag.Latest {
		height = api.b.Head().Height
	}
	b, err := api.b.BlockByHeight(height)
	return api.block(b, err, full)
}

// getBlockByHash: [blockHash, fullTxs?] → Block or null.
func (api *synodAPI) getBlockByHash(_ context.Context, c *Call) (any, error) {
	if err := c.Params.count(1, 2); err != nil {
		return nil, err
	}
	h, perr := c.Params.Hash(0, "blockHash")
	if perr != nil {
		return nil, perr
	}
	full, perr := c.Params.Bool(1, "fullTxs", false)
	if perr != nil {
		return nil, perr
	}
	b, err := api.b.BlockByHash(h)
	return api.block(b, err, full)
}

// block describes a looked-up block with its certificate; not found is
// null.
func (api *synodAPI) block(b *ledger.Block, err error, full bool) (any, error) {
	if errors.Is(err, ledger.ErrStoreNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, backendError("block", err)
	}
	cert, err := api.b.Certificate(b.Header.Height)
	if err != nil && !errors.Is(err, ledger.ErrStoreNotFound) {
		return nil, backendError("certificate", err)
	}
	return NewBlock(b, cert, full), nil
}

// status: [] → NodeStatus.
func (api *synodAPI) status(_ context.Context, c *Call) (any, error) {
	if err := c.Params.count(0, 0); err != nil {
		return nil, err
	}
	return api.b.Status(), nil
}

// validators: [] → [ValidatorInfo].
func (api *synodAPI) validators(_ context.Context, c *Call) (any, error) {
	if err := c.Params.count(0, 0); err != nil {
		return nil, err
	}
	vals := api.b.Validators()
	if vals == nil {
		vals = []ValidatorInfo{}
	}
	return vals, nil
}

// omReport: [height|"latest"?] → the backend's report, or null.
func omReport(om OMReporter, c *Call) (any, error) {
	if err := c.Params.count(0, 1); err != nil {
		return nil, err
	}
	tag, perr := c.Params.BlockTag(0, "height")
	if perr != nil {
		return nil, perr
	}
	rep, err := om.OMReport(tag)
	if err != nil {
		return nil, backendError("om report", err)
	}
	return rep, nil
}
