package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/coder/websocket"
)

// SubscriptionBufferMax bounds the notifications a subscription holds for
// a caller that has not received them yet; past it the subscription ends
// with ErrSubscriptionOverflow rather than stall the connection.
const SubscriptionBufferMax = 256

// ErrSubscriptionOverflow ends a subscription whose caller fell behind.
var ErrSubscriptionOverflow = errors.New("rpc client: subscription buffer overflow")

// wsTransport is one WebSocket connection: a reader goroutine routes
// replies to waiting calls by id and notifications to subscriptions.
type wsTransport struct {
	conn *websocket.Conn

	mu      sync.Mutex
	pending map[string]*pendingCall
	subs    map[string]*subState
	err     error // set once the connection is gone
	done    chan struct{}
}

type pendingCall struct {
	resp chan *wireResponse
	// sub, when set, is registered under the returned id by the reader
	// before it reads the next message, so no notification is missed.
	sub *subState
}

func dialWS(ctx context.Context, url string) (*wsTransport, error) {
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("rpc client: dial %s: %w", url, err)
	}
	conn.SetReadLimit(ResponseBytesMax)
	t := &wsTransport{
		conn:    conn,
		pending: make(map[string]*pendingCall),
		subs:    make(map[string]*subState),
		done:    make(chan struct{}),
	}
	go t.readLoop()
	return t, nil
}

// close ends the connection and waits for the reader; calls and
// subscriptions still open end with ErrClosed.
func (t *wsTransport) close() error {
	t.mu.Lock()
	if t.err == nil {
		t.err = ErrClosed
	}
	t.mu.Unlock()
	_ = t.conn.Close(websocket.StatusNormalClosure, "")
	<-t.done
	return nil
}

func (t *wsTransport) readLoop() {
	defer close(t.done)
	for {
		_, data, err := t.conn.Read(context.Background())
		if err != nil {
			t.fail(fmt.Errorf("rpc client: connection lost: %w", err))
			return
		}
		data = bytes.TrimSpace(data)
		if len(data) > 0 && data[0] == '[' {
			var batch []*wireResponse
			if json.Unmarshal(data, &batch) == nil {
				for _, r := range batch {
					if r != nil { // a null item answers nothing
						t.route(r)
					}
				}
			}
			continue
		}
		var r wireResponse
		if json.Unmarshal(data, &r) == nil {
			t.route(&r)
		}
	}
}

// route hands one message to its call or subscription.
func (t *wsTransport) route(r *wireResponse) {
	if r.Method != "" {
		if r.Params == nil {
			return
		}
		t.mu.Lock()
		sub := t.subs[r.Params.Subscription]
		t.mu.Unlock()
		switch {
		case sub == nil:
		case !sub.deliver(r.Params.Result):
			t.dropSub(r.Params.Subscription, ErrSubscriptionOverflow)
		case sub.isEnded():
			t.dropSub(r.Params.Subscription, nil)
		}
		return
	}
	t.mu.Lock()
	pc := t.pending[string(r.ID)]
	delete(t.pending, string(r.ID))
	if pc != nil && pc.sub != nil && r.Error == nil {
		var id string
		if json.Unmarshal(r.Result, &id) == nil {
			pc.sub.id = id
			t.subs[id] = pc.sub
		}
	}
	t.mu.Unlock()
	if pc != nil {
		pc.resp <- r
	}
}

// dropSub forgets a subscription that ended (a one-shot that fired) or
// whose consumer is too slow, ending it with err.
func (t *wsTransport) dropSub(id string, err error) {
	t.mu.Lock()
	sub := t.subs[id]
	delete(t.subs, id)
	t.mu.Unlock()
	if sub != nil {
		sub.end(err)
	}
}

// fail ends every waiting call and subscription with err.
func (t *wsTransport) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	pending, subs := t.pending, t.subs
	t.pending, t.subs = map[string]*pendingCall{}, map[string]*subState{}
	t.mu.Unlock()
	for _, pc := range pending {
		close(pc.resp)
	}
	for _, s := range subs {
		s.end(err)
	}
}

func (t *wsTransport) register(id string, pc *pendingCall) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	t.pending[id] = pc
	return nil
}

func (t *wsTransport) unregister(id string) {
	t.mu.Lock()
	delete(t.pending, id)
	t.mu.Unlock()
}

func (t *wsTransport) send(ctx context.Context, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("rpc client: encode request: %w", err)
	}
	if err := t.conn.Write(ctx, websocket.MessageText, payload); err != nil {
		return fmt.Errorf("rpc client: write: %w", err)
	}
	return nil
}

// call sends req and waits for its reply; sub is registered on success.
func (t *wsTransport) call(ctx context.Context, req wireRequest, sub *subState) (*wireResponse, error) {
	id := fmt.Sprint(req.ID)
	pc := &pendingCall{resp: make(chan *wireResponse, 1), sub: sub}
	if err := t.register(id, pc); err != nil {
		return nil, err
	}
	if err := t.send(ctx, req); err != nil {
		t.unregister(id)
		return nil, err
	}
	select {
	case r, ok := <-pc.resp:
		if !ok {
			return nil, t.lastErr()
		}
		return r, nil
	case <-ctx.Done():
		t.unregister(id)
		return nil, ctx.Err()
	}
}

func (t *wsTransport) batch(ctx context.Context, reqs []wireRequest) ([]*wireResponse, error) {
	pcs := make([]*pendingCall, len(reqs))
	for i, req := range reqs {
		pcs[i] = &pendingCall{resp: make(chan *wireResponse, 1)}
		if err := t.register(fmt.Sprint(req.ID), pcs[i]); err != nil {
			return nil, err
		}
	}
	unregisterAll := func() {
		for _, req := range reqs {
			t.unregister(fmt.Sprint(req.ID))
		}
	}
	if err := t.send(ctx, reqs); err != nil {
		unregisterAll()
		return nil, err
	}
	out := make([]*wireResponse, 0, len(reqs))
	for _, pc := range pcs {
		select {
		case r, ok := <-pc.resp:
			if !ok {
				return nil, t.lastErr()
			}
			out = append(out, r)
		case <-ctx.Done():
			unregisterAll()
			return nil, ctx.Err()
		}
	}
	return out, nil
}

func (t *wsTransport) lastErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	return ErrClosed
}

// subState is the transport's side of one subscription.
type subState struct {
	id      string
	mu      sync.Mutex
	ended   bool
	deliver func(json.RawMessage) bool // false: the consumer's buffer is full
	finish  func(error)
}

func (s *subState) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

func (s *subState) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	s.finish(err)
}

// Subscription delivers a subscription's notifications on C. C is closed
// when the subscription ends; Err then yields why (nil after Unsubscribe
// or a tx receipt, else the connection error or ErrSubscriptionOverflow).
type Subscription[T any] struct {
	C     <-chan T
	errc  chan error
	state *subState
	t     *wsTransport
	c     *Client
}

// ID is the server's subscription id.
func (s *Subscription[T]) ID() string { return s.state.id }

// Err receives the reason the subscription ended, once C is closed.
func (s *Subscription[T]) Err() <-chan error { return s.errc }

// Unsubscribe ends the subscription on the server and closes C.
func (s *Subscription[T]) Unsubscribe(ctx context.Context) error {
	s.t.mu.Lock()
	delete(s.t.subs, s.state.id)
	s.t.mu.Unlock()
	s.state.end(nil)
	var ok bool
	return s.c.Call(ctx, &ok, "synod_unsubscribe", s.state.id)
}

// subscribe opens a subscription whose notifications decode into T. With
// once, the subscription ends after its first notification.
func subscribe[T any](ctx context.Context, c *Client, once bool, params ...any) (*Subscription[T], error) {
	if c.ws == nil {
		return nil, errors.New("rpc client: subscriptions need a WebSocket client (ws:// URL)")
	}
	out := make(chan T, SubscriptionBufferMax)
	errc := make(chan error, 1)
	state := &subState{}
	state.finish = func(err error) {
		errc <- err
		close(out)
		close(errc)
	}
	// deliver runs on the reader goroutine only; the state lock orders it
	// against end.
	state.deliver = func(raw json.RawMessage) bool {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return true // a malformed notification is skipped
		}
		state.mu.Lock()
		if state.ended {
			state.mu.Unlock()
			return true
		}
		select {
		case out <- v:
		default:
			state.mu.Unlock()
			return false
		}
		if once {
			state.ended = true
			state.finish(nil)
		}
		state.mu.Unlock()
		return true
	}
	resp, err := c.ws.call(ctx, c.newRequest("synod_subscribe", params), state)
	if err != nil {
		return nil, err
	}
	if err := resp.err(); err != nil {
		return nil, err
	}
	if state.id == "" {
		return nil, fmt.Errorf("rpc client: subscribe answered %s, not an id", resp.Result)
	}
	return &Subscription[T]{C: out, errc: errc, state: state, t: c.ws, c: c}, nil
}
