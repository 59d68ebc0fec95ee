package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/synod-chain/synod/rpc/internal/jsonscan"
)

// jsonrpcVersion is the only protocol version accepted.
const jsonrpcVersion = "2.0"

// request is one decoded JSON-RPC request object.
type request struct {
	// id is the raw id as received (number, string or null), echoed
	// byte for byte; nil for a notification.
	id     json.RawMessage
	method string
	params json.RawMessage
}

func (r *request) isNotification() bool { return r.id == nil }

// response is one JSON-RPC response object.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

var nullID = json.RawMessage("null")

func errorResponse(id json.RawMessage, err *Error) *response {
	if id == nil {
		id = nullID
	}
	return &response{JSONRPC: jsonrpcVersion, ID: id, Error: err}
}

// message is what one HTTP body or WebSocket frame decoded to: a single
// request or a batch, each item a request or the error it decoded to.
type message struct {
	batch bool
	items []messageItem
}

type messageItem struct {
	req *request
	err *response // set when the item is not a valid request
}

// jsonSpace is the whitespace JSON allows around values.
const jsonSpace = " \t\n\r"

// decodeMessage parses a body. A body that is not JSON, or a batch that is
// empty or over batchMax, decodes to a single error response (returned as
// resp); otherwise every item is either a request or its own error.
func decodeMessage(data []byte, batchMax int) (msg message, resp *response) {
	// JSON's whitespace only: bytes.TrimSpace would also take \v, \f,
	// U+0085 and U+00A0, and so serve a body that is not JSON.
	data = bytes.Trim(data, jsonSpace)
	if len(data) > 0 && data[0] == '[' {
		// jsonscan reads the bodies wallets send in one pass, the items'
		// members included. What it declines goes to encoding/json, after
		// the items are counted: a 1 MiB body of tiny items would
		// otherwise cost tens of MiB to decode only to be refused. A
		// slice of raw messages takes any valid JSON array, so once the
		// body is valid Unmarshal does not fail.
		raws, objects, n, ok := jsonscan.Batch(data, batchMax)
		if !ok {
			if !json.Valid(data) {
				return message{}, parseErrorResponse()
			}
			objects, n = nil, jsonscan.Len(data)
			if n > 0 && n <= batchMax {
				if err := json.Unmarshal(data, &raws); err != nil {
					return message{}, parseErrorResponse()
				}
			}
		}
		if n == 0 {
			return message{}, errorResponse(nil, errInvalidRequest("empty batch"))
		}
		if n > batchMax {
			return message{}, errorResponse(nil, errInvalidRequest("batch of %d items exceeds the limit of %d", n, batchMax))
		}
		msg = message{batch: true, items: make([]messageItem, len(raws))}
		for i, raw := range raws {
			if objects != nil && objects[i] != nil {
				msg.items[i] = checkItem(objects[i])
			} else {
				msg.items[i] = decodeItem(raw)
			}
		}
		return msg, nil
	}
	if obj, ok := jsonscan.Object(data); ok {
		return message{items: []messageItem{checkItem(obj)}}, nil
	}
	if !json.Valid(data) {
		return message{}, parseErrorResponse()
	}
	return message{items: []messageItem{decodeItem(data)}}, nil
}

// parseErrorResponse answers a body that is not JSON.
func parseErrorResponse() *response {
	return errorResponse(nil, &Error{Code: CodeParseError, Message: "parse error: body is not valid JSON"})
}

// decodeItem checks one request object against JSON-RPC 2.0 section 4.
// Member names are matched exactly (encoding/json's struct decoding would
// match them case-insensitively).
func decodeItem(raw json.RawMessage) messageItem {
	obj, ok := jsonscan.Object(raw)
	if !ok {
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return messageItem{err: errorResponse(nil, errInvalidRequest("request must be a JSON object"))}
		}
	}
	return checkItem(obj)
}

// checkItem checks a request object's members.
func checkItem(obj map[string]json.RawMessage) messageItem {
	id, hasID := obj["id"]
	if hasID && !validID(id) {
		return messageItem{err: errorResponse(nil, errInvalidRequest("id must be a string, a number or null"))}
	}
	version, ok := plainString(obj["jsonrpc"])
	if !ok && json.Unmarshal(obj["jsonrpc"], &version) != nil || version != jsonrpcVersion {
		return messageItem{err: errorResponse(id, errInvalidRequest(`"jsonrpc" must be "2.0"`))}
	}
	method, ok := plainString(obj["method"])
	if !ok && json.Unmarshal(obj["method"], &method) != nil || method == "" {
		return messageItem{err: errorResponse(id, errInvalidRequest(`"method" must be a non-empty string`))}
	}
	req := &request{method: method, params: obj["params"]}
	if hasID {
		req.id = id
	}
	return messageItem{req: req}
}

// validID accepts the id types JSON-RPC 2.0 allows: string, number, null.
func validID(id json.RawMessage) bool {
	id = bytes.TrimSpace(id)
	if len(id) == 0 {
		return false
	}
	switch c := id[0]; {
	case c == '"', c == '-', c >= '0' && c <= '9':
		return true
	case c == 'n':
		return string(id) == "null"
	}
	return false
}

// Call is one method invocation as a Method sees it.
type Call struct {
	// Params are the positional parameters.
	Params Params
	// conn is the WebSocket connection the call came on, nil over HTTP.
	conn *wsConn
	// afterReply runs once the reply has been queued: a subscription
	// starts delivering only then, so no notification overtakes the
	// subscription id it belongs to.
	afterReply func()
}

// Method is one API method.
type Method func(ctx context.Context, call *Call) (any, error)

// BatchMethod is a method's form for several calls of one JSON-RPC batch at
// once, for methods whose work is cheaper in bulk (a batch of transactions
// verifies its signatures together). It returns one result per call, in
// order.
type BatchMethod func(ctx context.Context, calls []*Call) []CallResult

// CallResult is one call's outcome in a BatchMethod.
type CallResult struct {
	Result any
	Err    error
}

// registry maps "namespace_method" to its Method.
type registry map[string]Method

// register adds the methods of one namespace. A name registered twice is a
// programmer error.
func (r registry) register(namespace string, methods map[string]Method) {
	for name, m := range methods {
		full := namespace + "_" + name
		if _, dup := r[full]; dup {
			panic(fmt.Sprintf("rpc: method %s registered twice", full))
		}
		r[full] = m
	}
}

// dispatcher runs decoded messages against the registry.
type dispatcher struct {
	methods registry
	// batched holds the batch forms of methods that have one, by full
	// name; a batch's calls of such a method run through it together.
	batched  map[string]BatchMethod
	batchMax int
	// batchResponseMax bounds the bytes of one batch's responses.
	batchResponseMax int64
	log              *slog.Logger
}

// handle runs a whole body and returns the bytes to send back, or nil when
// nothing must be sent (only notifications), and the afterReply hooks to
// run once those bytes are queued.
func (d *dispatcher) handle(ctx context.Context, data []byte, conn *wsConn) ([]byte, []func()) {
	msg, errResp := decodeMessage(data, d.batchMax)
	if errResp != nil {
		return d.encode(errResp), nil
	}
	resps, hookOf := d.callAll(ctx, msg.items, conn)
	var out []*response
	var hooks []func()
	for i := range msg.items {
		if hookOf[i] != nil {
			hooks = append(hooks, hookOf[i])
		}
		if resps[i] != nil {
			out = append(out, resps[i])
		}
	}
	switch {
	case len(out) == 0:
		return nil, hooks
	case !msg.batch:
		return d.encode(out[0]), hooks
	}
	return d.encode(out), hooks
}

// batchWorkersMax bounds the goroutines one batch runs its items on.
const batchWorkersMax = 8

// callAll runs the items of a body, a batch's concurrently (JSON-RPC 2.0
// lets a server process a batch in any order): a batch of transactions
// then verifies its signatures on every core and shares its journal
// fsyncs, instead of paying for each in turn. Responses keep item order.
func (d *dispatcher) callAll(ctx context.Context, items []messageItem, conn *wsConn) ([]*response, []func()) {
	resps := make([]*response, len(items))
	hooks := make([]func(), len(items))
	if len(items) == 1 {
		if items[0].err != nil {
			resps[0] = items[0].err
		} else {
			resps[0], hooks[0] = d.call(ctx, items[0].req, conn)
		}
		return resps, hooks
	}
	budget := &responseBudget{max: d.batchResponseMax}
	budget.left.Store(d.batchResponseMax)
	var single []int
	grouped := map[string][]int{}
	for i, it := range items {
		switch {
		case it.err != nil:
			resps[i] = it.err
		case d.batched[it.req.method] != nil:
			grouped[it.req.method] = append(grouped[it.req.method], i)
		default:
			single = append(single, i)
		}
	}
	var wg sync.WaitGroup
	for name, idx := range grouped {
		if len(idx) == 1 {
			single = append(single, idx[0])
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); d.callBatched(ctx, name, items, idx, resps, budget) }()
	}
	next := make(chan int, len(single))
	for _, i := range single {
		next <- i
	}
	close(next)
	for range min(batchWorkersMax, len(single)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req := items[i].req
				if budget.spent() && !req.isNotification() {
					resps[i] = errorResponse(req.id, budget.refusal())
					continue
				}
				resps[i], hooks[i] = d.call(ctx, req, conn)
				budget.charge(resps[i])
			}
		}()
	}
	wg.Wait()
	return resps, hooks
}

// callBatched runs the items idx of a batch, all calls of method name,
// through its batch form in one call, and fills their responses.
func (d *dispatcher) callBatched(ctx context.Context, name string, items []messageItem, idx []int, resps []*response, budget *responseBudget) {
	calls := make([]*Call, 0, len(idx))
	var run []int
	for _, i := range idx {
		params, perr := parseParams(items[i].req.params)
		if perr != nil {
			if !items[i].req.isNotification() {
				resps[i] = errorResponse(items[i].req.id, perr)
			}
			continue
		}
		calls = append(calls, &Call{Params: params})
		run = append(run, i)
	}
	if len(calls) == 0 {
		return
	}
	results := d.invokeBatch(ctx, d.batched[name], calls, name)
	for k, i := range run {
		resps[i] = d.respond(items[i].req, results[k].Result, results[k].Err)
		budget.charge(resps[i])
	}
}

// responseBudget is what is left of a batch's response bytes. Calls run
// while some is left; the few running when it runs out (one per worker)
// still finish, so a batch's responses stay within the limit plus one
// response per worker.
type responseBudget struct {
	max  int64
	left atomic.Int64
}

func (b *responseBudget) spent() bool { return b.left.Load() <= 0 }

// charge takes r's encoded size (about) from the budget.
func (b *responseBudget) charge(r *response) {
	if r == nil {
		return
	}
	n := len(`{"jsonrpc":"2.0","id":,"result":}`) + len(r.ID) + len(r.Result)
	if r.Error != nil {
		n += len(`{"code":-32000,"message":""}`) + len(r.Error.Message)
	}
	b.left.Add(-int64(n))
}

// refusal answers a call the budget had no room for.
func (b *responseBudget) refusal() *Error {
	return &Error{Code: CodeResponseTooLarge, Message: fmt.Sprintf(
		"the batch's responses reached %d bytes before this call ran, so it did not run: send it in a smaller batch", b.max)}
}

// invokeBatch is invoke for a batch form: a panic answers every call with
// an internal error.
func (d *dispatcher) invokeBatch(ctx context.Context, m BatchMethod, calls []*Call, name string) (results []CallResult) {
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("rpc: method panicked", "method", name, "panic", fmt.Sprint(p))
			results = make([]CallResult, len(calls))
			for i := range results {
				results[i].Err = &Error{Code: CodeInternal, Message: "internal error"}
			}
		}
	}()
	results = m(ctx, calls)
	if len(results) != len(calls) {
		panic(fmt.Sprintf("rpc: %s batch form returned %d results for %d calls", name, len(results), len(calls)))
	}
	return results
}

// call runs one request; it returns nil for a notification.
func (d *dispatcher) call(ctx context.Context, req *request, conn *wsConn) (resp *response, hook func()) {
	m, ok := d.methods[req.method]
	if !ok {
		if req.isNotification() {
			return nil, nil
		}
		return errorResponse(req.id, errMethodNotFound(req.method)), nil
	}
	params, perr := parseParams(req.params)
	if perr != nil {
		if req.isNotification() {
			return nil, nil
		}
		return errorResponse(req.id, perr), nil
	}
	c := &Call{Params: params, conn: conn}
	result, err := d.invoke(ctx, m, c, req.method)
	if req.isNotification() {
		return nil, c.afterReply
	}
	if err != nil {
		return errorResponse(req.id, d.toError(req.method, err)), nil
	}
	return d.respond(req, result, nil), c.afterReply
}

// respond turns a call's outcome into its response (nil for a
// notification).
func (d *dispatcher) respond(req *request, result any, err error) *response {
	if req.isNotification() {
		return nil
	}
	if err != nil {
		return errorResponse(req.id, d.toError(req.method, err))
	}
	raw, merr := json.Marshal(result)
	if merr != nil {
		return errorResponse(req.id, d.toError(req.method, internalError("encoding the result", merr)))
	}
	return &response{JSONRPC: jsonrpcVersion, ID: req.id, Result: raw}
}

// invoke runs m, turning a panic in a handler or a backend into an internal
// error for this one call: one bad request must not take the server down.
func (d *dispatcher) invoke(ctx context.Context, m Method, c *Call, name string) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("rpc: method panicked", "method", name, "panic", fmt.Sprint(p))
			result, err = nil, &Error{Code: CodeInternal, Message: "internal error"}
		}
	}()
	return m(ctx, c)
}

// toError gives every error of method a code: *Error keeps its own, an
// RPCCoder error its application code, anything else is internal. The
// cause of an internal error is logged here, as the caller gets none of
// it.
func (d *dispatcher) toError(method string, err error) *Error {
	e := codedError(err)
	if e == nil {
		e = internalError("", err)
	}
	if e.cause != nil {
		d.log.Error("rpc: internal error", "method", method, "err", e.cause)
	}
	return e
}

func (d *dispatcher) encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Responses are built from json.RawMessage and *Error only; a
		// failure here is a programmer error, answered as internal.
		d.log.Error("rpc: encode response", "err", err)
		return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"encode response"}}`)
	}
	return b
}
