package rpc

import (
	"errors"
	"fmt"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// JSON-RPC 2.0 error codes (the specification's section 5.1).
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
)

// Application codes, in the range -32000…-32099. The tx rejection codes
// -32000…-32019 say why synod_sendRawTransaction refused a transaction, one
// code per reason, so a wallet can branch on the code and leave the message
// to humans. Codes are never reused for another meaning.
const (
	// CodeTxRejected is a rejection for a reason with no code of its own.
	CodeTxRejected = -32000
	// CodeTxMalformed: the bytes are not a canonical transaction.
	CodeTxMalformed = -32001
	// CodeTxTooLarge: over ledger.TxBytesMax, or a memo over its limit.
	CodeTxTooLarge = -32002
	// CodeTxWrongChain: signed for another chain id.
	CodeTxWrongChain = -32003
	// CodeTxBadSignature: the signature or the sender's key is invalid.
	CodeTxBadSignature = -32004
	// CodeTxNonceTooLow: the nonce was already used.
	CodeTxNonceTooLow = -32005
	// CodeTxNonceGap: the nonce is above the next one the sender can use.
	CodeTxNonceGap = -32006
	// CodeTxInsufficientFunds: balance below amount plus fee (counting the
	// sender's pending transactions).
	CodeTxInsufficientFunds = -32007
	// CodeTxAmountOverflow: amount plus fee overflows 64 bits.
	CodeTxAmountOverflow = -32008
	// CodeTxDuplicate: the same transaction is already pending or committed.
	CodeTxDuplicate = -32009
	// CodeTxUnderpriced: a pending tx has this sender and nonce, and the
	// replacement does not pay enough more to displace it.
	CodeTxUnderpriced = -32010
	// CodeMempoolFull: the node's pool of pending transactions is full.
	CodeMempoolFull = -32011
	// CodeTxSenderLimit: the sender has as many pending txs as allowed.
	CodeTxSenderLimit = -32012

	// CodeSubscriptionLimit: the connection has SubscriptionsPerConnMax
	// subscriptions already.
	CodeSubscriptionLimit = -32050
	// CodeUnavailable: the node cannot answer now (shutting down, no
	// genesis yet).
	CodeUnavailable = -32051
	// CodeHistoryPruned: the node keeps only the current state (a pruned
	// store), so it cannot answer for an earlier height; an archive node
	// (one that keeps history) can.
	CodeHistoryPruned = -32052
	// CodeResponseTooLarge: the responses of the call's batch reached
	// Config.BatchResponseBytesMax before the call ran, so it was not run.
	CodeResponseTooLarge = -32053
)

// Sentinels a node wraps (fmt.Errorf("%w: …", rpc.ErrMempoolFull)) when its
// mempool refuses a transaction for a reason ledger has no error for. A
// mempool that wants no such wrapping implements RPCCoder instead.
var (
	ErrMempoolFull    = errors.New("mempool full")
	ErrTxDuplicate    = errors.New("tx already known")
	ErrTxUnderpriced  = errors.New("replacement tx underpriced")
	ErrTxSenderLimit  = errors.New("too many pending txs from this sender")
	ErrNotInitialized = errors.New("node has no genesis yet")
)

// RPCCoder is the hook through which any error from a Backend picks its
// own code: if an error in the chain (errors.As) implements it and returns
// a code in the application range -32000…-32099, that code is used with
// the error's message. Other codes are ignored, so a backend cannot forge
// a protocol error such as -32700.
type RPCCoder interface {
	RPCCode() int
}

// Error is a JSON-RPC error object. Handlers return it for errors with a
// known code; any other error becomes CodeInternal.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`

	// cause is the failure behind an internal error: the server logs it
	// and never sends it, as it may name the node's files and internals.
	cause error
}

// internalError answers a failure of the node's own: the caller learns
// what failed, the node's log why.
func internalError(what string, cause error) *Error {
	msg := "internal error (details in the node's log)"
	if what != "" {
		msg = "internal error " + what + " (details in the node's log)"
	}
	return &Error{Code: CodeInternal, Message: msg, cause: cause}
}

func (e *Error) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// ErrorCode returns e.Code; it lets tests and callers treat *Error and the
// client's error alike.
func (e *Error) ErrorCode() int { return e.Code }

func errInvalidParams(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParams, Message: fmt.Sprintf(format, args...)}
}

func errInvalidRequest(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

func errMethodNotFound(method string) *Error {
	return &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("the method %s does not exist/is not available", method)}
}

// txRejections maps the ledger's and this package's sentinels to codes.
// Order matters only where one error could wrap two sentinels; the most
// specific comes first.
var txRejections = []struct {
	err  error
	code int
}{
	{ledger.ErrTxTooLarge, CodeTxTooLarge},
	{ledger.ErrTxMemoTooLarge, CodeTxTooLarge},
	{ledger.ErrMalformed, CodeTxMalformed},
	{ledger.ErrTxWrongChain, CodeTxWrongChain},
	{ledger.ErrTxBadSignature, CodeTxBadSignature},
	{ledger.ErrTxBadSender, CodeTxBadSignature},
	{crypto.ErrBadSignature, CodeTxBadSignature},
	{ledger.ErrTxNonceTooLow, CodeTxNonceTooLow},
	{ledger.ErrTxNonceGap, CodeTxNonceGap},
	{ledger.ErrTxInsufficientFunds, CodeTxInsufficientFunds},
	{ledger.ErrTxAmountOverflow, CodeTxAmountOverflow},
	{ErrTxDuplicate, CodeTxDuplicate},
	{ErrTxUnderpriced, CodeTxUnderpriced},
	{ErrMempoolFull, CodeMempoolFull},
	{ErrTxSenderLimit, CodeTxSenderLimit},
	{ErrNotInitialized, CodeUnavailable},
}

// isAppCode reports whether code is in the application range.
func isAppCode(code int) bool { return code <= -32000 && code >= -32099 }

// txRejectionError turns an error from Backend.SubmitTx into the error
// object a wallet sees: the backend's RPCCoder code if it has one, else
// the code of the first matching sentinel, else CodeTxRejected.
func txRejectionError(err error) *Error {
	if e := codedError(err); e != nil {
		return e
	}
	for _, r := range txRejections {
		if errors.Is(err, r.err) {
			return &Error{Code: r.code, Message: err.Error()}
		}
	}
	return &Error{Code: CodeTxRejected, Message: err.Error()}
}

// IsTxRefusal reports whether err, from TxPool.SubmitTx, says why the tx
// is refused: it wraps one of the sentinels the tx codes map from, or
// names its own code (RPCCoder, *Error). A node can tell by it a refusal
// from its own failure to admit a tx (a journal write, a state read),
// which is no fault of the tx and should be answered as CodeInternal.
func IsTxRefusal(err error) bool {
	if codedError(err) != nil {
		return true
	}
	for _, r := range txRejections {
		if errors.Is(err, r.err) {
			return true
		}
	}
	return false
}

// codedError returns the error object of an error that names its own
// application code, or nil.
func codedError(err error) *Error {
	var rpcErr *Error
	if errors.As(err, &rpcErr) {
		return rpcErr
	}
	var coder RPCCoder
	if errors.As(err, &coder) && isAppCode(coder.RPCCode()) {
		return &Error{Code: coder.RPCCode(), Message: err.Error()}
	}
	return nil
}

// backendError turns an error from a read-only Backend call into an error
// object: a coded one keeps its code, anything else is internal.
func backendError(what string, err error) *Error {
	if e := codedError(err); e != nil {
		return e
	}
	if errors.Is(err, ErrNotInitialized) {
		return &Error{Code: CodeUnavailable, Message: err.Error()}
	}
	return internalError("reading "+what, err)
}
