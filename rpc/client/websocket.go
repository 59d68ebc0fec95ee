package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// sendMu keeps batches in the order their messages go on the wire.
	sendMu sync.Mutex

	mu      sync.Mutex
	pending map[string]*pendingCall
	subs    map[string]*subState
	// batches holds the ids of every batch sent and not answered yet, in
	// the order sent. The server answers a connection's messages in
	// order, and refuses a batch as a whole (too many items) with one
	// error whose id is null: that error is the oldest batch's.
	batches [][]string
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
				if i := slices.IndexFunc(batch, func(r *wireResponse) bool { return r != nil }); i >= 0 {
					t.answered(batch[i].ID)
				}
				for _, r := range batch {
					if r != nil { // a null item answers nothing
						t.route(r)
					}
				}
			}
			continue
		}
		var r wireResponse
		if json.Unmarshal(data, &r) != nil {
			continue
		}
		if r.Method == "" && r.Error != nil && isNullID(r.ID) {
			t.refuseOldestBatch(&r)
			continue
		}
		t.route(&r)
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
		if sub == nil {
			return
		}
		if err := sub.deliver(r.Params.Result); err != nil {
			t.dropSub(r.Params.Subscription, err)
		} else if sub.isEnded() {
			t.dropSub(r.Params.Subscription, nil)
		}
		return
	}
	t.mu.Lock()
	pc := t.pending[string(r.ID)]
	delete(t.pending, string(r.ID))
	if pc != nil && pc.sub != nil && r.Error == nil {
		// An id already in use would orphan that subscription: it would
		// never be delivered to, nor ended when the connection goes.
		var id string
		if json.Unmarshal(r.Result, &id) == nil && id != "" && t.subs[id] == nil {
			pc.sub.id = id
			t.subs[id] = pc.sub
		}
	}
	t.mu.Unlock()
	if pc != nil {
		pc.resp <- r
	}
}

func isNullID(id json.RawMessage) bool {
	id = bytes.TrimSpace(id)
	return len(id) == 0 || string(id) == "null"
}

// answered forgets the batch that holds id, whose answer came.
func (t *wsTransport) answered(id json.RawMessage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, ids := range t.batches {
		if slices.Contains(ids, string(id)) {
			t.batches = slices.Delete(t.batches, i, i+1)
			return
		}
	}
}

// refuseOldestBatch answers every call of the oldest unanswered batch
// with r, the server's refusal of a whole batch.
func (t *wsTransport) refuseOldestBatch(r *wireResponse) {
	t.mu.Lock()
	if len(t.batches) == 0 {
		t.mu.Unlock()
		return
	}
	ids := t.batches[0]
	t.batches = t.batches[1:]
	var pcs []*pendingCall
	for _, id := range ids {
		if pc := t.pending[id]; pc != nil {
			pcs = append(pcs, pc)
			delete(t.pending, id)
		}
	}
	t.mu.Unlock()
	for _, pc := range pcs {
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
	t.batches = nil
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
	ids := make([]string, len(reqs))
	for i, req := range reqs {
		ids[i] = fmt.Sprint(req.ID)
		pcs[i] = &pendingCall{resp: make(chan *wireResponse, 1)}
		if err := t.register(ids[i], pcs[i]); err != nil {
			return nil, err
		}
	}
	unregisterAll := func() {
		for _, id := range ids {
			t.unregister(id)
		}
	}
	if err := t.sendBatch(ctx, reqs, ids); err != nil {
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
			if isNullID(r.ID) && r.Error != nil {
				unregisterAll()
				return nil, r.err() // the server refused the whole batch
			}
			out = append(out, r)
		case <-ctx.Done():
			unregisterAll()
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// sendBatch sends a batch and records it as unanswered, both in wire
// order.
func (t *wsTransport) sendBatch(ctx context.Context, reqs []wireRequest, ids []string) error {
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	t.mu.Lock()
	t.batches = append(t.batches, ids)
	t.mu.Unlock()
	if err := t.send(ctx, reqs); err != nil {
		t.mu.Lock()
		if i := slices.IndexFunc(t.batches, func(b []string) bool { return &b[0] == &ids[0] }); i >= 0 {
			t.batches = slices.Delete(t.batches, i, i+1)
		}
		t.mu.Unlock()
		return err
	}
	return nil
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
	id    string
	mu    sync.Mutex
	ended bool
	// deliver hands a notification to the consumer; an error (its buffer
	// is full, the notification is wrong) ends the subscription.
	deliver func(json.RawMessage) error
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
// once, the subscription ends after its first notification. check, if
// set, vets each notification; one it refuses ends the subscription with
// its error.
func subscribe[T any](ctx context.Context, c *Client, once bool, check func(*T) error, params ...any) (*Subscription[T], error) {
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
	state.deliver = func(raw json.RawMessage) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil // a malformed notification is skipped
		}
		if check != nil {
			if err := check(&v); err != nil {
				return err
			}
		}
		state.mu.Lock()
		defer state.mu.Unlock()
		if state.ended {
			return nil
		}
		select {
		case out <- v:
		default:
			return ErrSubscriptionOverflow
		}
		if once {
			state.ended = true
			state.finish(nil)
		}
		return nil
	}
	resp, err := c.ws.call(ctx, c.newRequest("synod_subscribe", params), state)
	if err != nil {
		return nil, err
	}
	if err := resp.err(); err != nil {
		return nil, err
	}
	if state.id == "" {
		return nil, fmt.Errorf("%w: subscribe answered %s, not a new subscription id", ErrWrongAnswer, resp.Result)
	}
	return &Subscription[T]{C: out, errc: errc, state: state, t: c.ws, c: c}, nil
}
