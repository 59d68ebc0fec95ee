// Package client is the Go client of Synod's JSON-RPC API: one typed
// method per API method, context-aware, over HTTP or WebSocket, with
// subscriptions delivered on channels (WebSocket only). Errors the server
// returns are *Error values carrying the JSON-RPC code, so callers branch
// on codes (rpc.CodeTxNonceTooLow, …) with errors.As.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/rpc"
)

// ResponseBytesMax bounds one response or notification read from a
// server; a full block with its txs fits many times over.
const ResponseBytesMax = 64 << 20

// Error is an error object returned by the server.
type Error struct {
	Code    int
	Message string
	Data    json.RawMessage
}

func (e *Error) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// ErrorCode returns the JSON-RPC code of err if it is (or wraps) an
// *Error, and 0 otherwise.
func ErrorCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// ErrClosed is returned by calls on a closed client.
var ErrClosed = errors.New("rpc client: closed")

// Client talks to one node. It is safe for concurrent use.
type Client struct {
	url    string
	http   *http.Client
	ws     *wsTransport // nil over HTTP
	nextID atomic.Uint64
}

// Dial connects to rawURL: http:// or https:// for HTTP POST, ws:// or
// wss:// (the node's /ws endpoint) for WebSocket, which subscriptions need.
func Dial(ctx context.Context, rawURL string) (*Client, error) {
	switch {
	case strings.HasPrefix(rawURL, "http://"), strings.HasPrefix(rawURL, "https://"):
		return NewHTTP(rawURL, nil), nil
	case strings.HasPrefix(rawURL, "ws://"), strings.HasPrefix(rawURL, "wss://"):
		return DialWebSocket(ctx, rawURL)
	}
	return nil, fmt.Errorf("rpc client: URL %q must start with http://, https://, ws:// or wss://", rawURL)
}

// NewHTTP returns a client that POSTs to url with hc (http.DefaultClient
// if nil).
func NewHTTP(url string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{url: url, http: hc}
}

// DialWebSocket opens a WebSocket to url (ws://host:port/ws).
func DialWebSocket(ctx context.Context, url string) (*Client, error) {
	t, err := dialWS(ctx, url)
	if err != nil {
		return nil, err
	}
	return &Client{url: url, ws: t}, nil
}

// WebSocketURL returns the WebSocket endpoint of a node's HTTP URL:
// http://host:port → ws://host:port/ws.
func WebSocketURL(httpURL string) (string, error) {
	var rest, scheme string
	switch {
	case strings.HasPrefix(httpURL, "http://"):
		scheme, rest = "ws://", strings.TrimPrefix(httpURL, "http://")
	case strings.HasPrefix(httpURL, "https://"):
		scheme, rest = "wss://", strings.TrimPrefix(httpURL, "https://")
	case strings.HasPrefix(httpURL, "ws://"), strings.HasPrefix(httpURL, "wss://"):
		return httpURL, nil
	default:
		return "", fmt.Errorf("rpc client: URL %q must start with http:// or https://", httpURL)
	}
	return scheme + strings.TrimSuffix(rest, "/") + "/ws", nil
}

// Close closes a WebSocket client; it is a no-op over HTTP.
func (c *Client) Close() error {
	if c.ws != nil {
		return c.ws.close()
	}
	return nil
}

// wireRequest and wireResponse are the JSON-RPC envelopes.
type wireRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type wireResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *wireError      `json:"error"`
	// Method and Params are set on notifications.
	Method string            `json:"method"`
	Params *rpc.Notification `json:"params"`
}

type wireError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (r *wireResponse) err() error {
	if r.Error == nil {
		return nil
	}
	return &Error{Code: r.Error.Code, Message: r.Error.Message, Data: r.Error.Data}
}

func (c *Client) newRequest(method string, params []any) wireRequest {
	if params == nil {
		params = []any{}
	}
	return wireRequest{JSONRPC: "2.0", ID: c.nextID.Add(1), Method: method, Params: params}
}

// Call invokes method with positional params and decodes the result into
// result (a pointer; nil to discard it). A JSON null result leaves a
// pointer-to-pointer nil.
func (c *Client) Call(ctx context.Context, result any, method string, params ...any) error {
	req := c.newRequest(method, params)
	var resp *wireResponse
	var err error
	if c.ws != nil {
		resp, err = c.ws.call(ctx, req, nil)
	} else {
		resp, err = c.httpCall(ctx, req)
	}
	if err != nil {
		return err
	}
	return decodeResult(resp, result)
}

func decodeResult(resp *wireResponse, result any) error {
	if err := resp.err(); err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	if h, ok := result.(*crypto.Hash); ok {
		if done, err := decodeHashResult(resp.Result, h); done {
			if err != nil {
				return fmt.Errorf("rpc client: decode result: %w", err)
			}
			return nil
		}
	}
	if err := json.Unmarshal(resp.Result, result); err != nil {
		return fmt.Errorf("rpc client: decode result: %w", err)
	}
	return nil
}

// BatchElem is one call of a batch; after BatchCall, Error holds the
// call's own error, if any.
type BatchElem struct {
	Method string
	Params []any
	Result any
	Error  error
}

// BatchCall sends calls as one JSON-RPC batch. The returned error is for
// the batch as a whole (transport, or the server refusing the batch); each
// element's Error is its own.
func (c *Client) BatchCall(ctx context.Context, calls []BatchElem) error {
	if len(calls) == 0 {
		return nil
	}
	reqs := make([]wireRequest, len(calls))
	byID := make(map[string]int, len(calls))
	for i, bc := range calls {
		reqs[i] = c.newRequest(bc.Method, bc.Params)
		byID[fmt.Sprint(reqs[i].ID)] = i
	}
	var resps []*wireResponse
	var err error
	if c.ws != nil {
		resps, err = c.ws.batch(ctx, reqs)
	} else {
		resps, err = c.httpBatch(ctx, reqs)
	}
	if err != nil {
		return err
	}
	seen := make([]bool, len(calls))
	for _, r := range resps {
		if r == nil {
			continue // a null item answers no call
		}
		i, ok := byID[string(r.ID)]
		if !ok {
			continue
		}
		seen[i] = true
		calls[i].Error = decodeResult(r, calls[i].Result)
	}
	for i, ok := range seen {
		if !ok {
			calls[i].Error = errors.New("rpc client: no response for this call")
		}
	}
	return nil
}

func (c *Client) httpCall(ctx context.Context, req wireRequest) (*wireResponse, error) {
	payload, err := encodeRequest(make([]byte, 0, sizeHint(req)), req)
	if err != nil {
		return nil, err
	}
	body, err := c.httpPost(ctx, payload)
	if err != nil {
		return nil, err
	}
	var resp wireResponse
	if fast, ok := scanResponse(body); ok {
		resp = *fast
	} else if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("rpc client: decode response: %w", err)
	}
	if resp.Error == nil && string(resp.ID) != fmt.Sprint(req.ID) {
		return nil, fmt.Errorf("rpc client: response id %s for request %d", resp.ID, req.ID)
	}
	return &resp, nil
}

func (c *Client) httpBatch(ctx context.Context, reqs []wireRequest) ([]*wireResponse, error) {
	payload, err := encodeBatch(reqs)
	if err != nil {
		return nil, err
	}
	body, err := c.httpPost(ctx, payload)
	if err != nil {
		return nil, err
	}
	if resps, ok := scanBatchResponse(body); ok {
		return resps, nil
	}
	var resps []*wireResponse
	if err := json.Unmarshal(body, &resps); err != nil {
		// A refused batch is one error object, not an array.
		var single wireResponse
		if json.Unmarshal(body, &single) == nil && single.Error != nil {
			return nil, single.err()
		}
		return nil, fmt.Errorf("rpc client: decode batch response: %w", err)
	}
	return resps, nil
}

// httpPost sends payload and returns the response body. An HTTP error
// status with a JSON-RPC error body (body too large, wrong content type)
// comes back as that *Error.
func (c *Client) httpPost(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("rpc client: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rpc client: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, ResponseBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("rpc client: read response: %w", err)
	}
	if len(body) > ResponseBytesMax {
		return nil, fmt.Errorf("rpc client: response exceeds %d bytes", ResponseBytesMax)
	}
	if resp.StatusCode != http.StatusOK {
		var single wireResponse
		if json.Unmarshal(body, &single) == nil && single.Error != nil {
			return nil, single.err()
		}
		return nil, fmt.Errorf("rpc client: HTTP %s: %s", resp.Status, bytes.TrimSpace(body[:min(len(body), 200)]))
	}
	return body, nil
}
