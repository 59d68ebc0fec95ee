package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// subscription is one synod_subscribe of one connection.
type subscription struct {
	id   string
	kind string
	tx   crypto.Hash // for SubscriptionTx
	conn *wsConn
	// fired is set when a tx subscription has sent its one receipt.
	fired atomic.Bool

	// A subscription joins the hub before the reply carrying its id is
	// queued, so no block committed after the wallet reads that reply is
	// missed; until the reply is queued it is not armed, and its
	// notifications wait in held, so none overtakes the reply.
	mu    sync.Mutex
	armed bool
	held  []json.RawMessage
}

// subscriptionHeldMax bounds the notifications a subscription holds
// before its reply is queued (a few blocks at most in practice).
const subscriptionHeldMax = 64

// send delivers one notification, or holds it until arm.
func (s *subscription) send(result json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.armed {
		s.conn.notify(s.id, result)
		return
	}
	if len(s.held) >= subscriptionHeldMax {
		s.conn.close(websocket.StatusPolicyViolation, "subscriber too slow")
		return
	}
	s.held = append(s.held, result)
}

// arm sends what was held, in order, and everything after at once.
func (s *subscription) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
	for _, r := range s.held {
		s.conn.notify(s.id, r)
	}
	s.held = nil
}

// blockHub reads the backend's committed blocks from one goroutine and
// fans each out to the subscriptions, through each connection's bounded
// queue: no subscriber can hold up delivery to another, or the node.
// It subscribes to the backend on the first subscription.
type blockHub struct {
	b   Backend
	log *slog.Logger

	mu      sync.Mutex
	blocks  map[*subscription]struct{}
	txs     map[crypto.Hash]map[*subscription]struct{}
	running bool
	stopped bool
	quit    chan struct{}
	wg      sync.WaitGroup
}

func newBlockHub(b Backend, log *slog.Logger) *blockHub {
	return &blockHub{
		b: b, log: log,
		blocks: make(map[*subscription]struct{}),
		txs:    make(map[crypto.Hash]map[*subscription]struct{}),
		quit:   make(chan struct{}),
	}
}

// add starts delivering to sub. It reports false if sub's connection is
// already closing (checked under the hub's lock, so removeConn, which
// runs after the connection is marked closing, never misses sub).
func (h *blockHub) add(sub *subscription) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped || sub.conn.isClosed() {
		return false
	}
	switch sub.kind {
	case SubscriptionNewBlocks:
		h.blocks[sub] = struct{}{}
	case SubscriptionTx:
		set := h.txs[sub.tx]
		if set == nil {
			set = make(map[*subscription]struct{})
			h.txs[sub.tx] = set
		}
		set[sub] = struct{}{}
	}
	if !h.running {
		ch, cancel := h.b.SubscribeBlocks()
		h.running = true
		h.wg.Add(1)
		go h.run(ch, cancel)
	}
	return true
}

// remove stops delivering to sub.
func (h *blockHub) remove(sub *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(sub)
}

func (h *blockHub) removeLocked(sub *subscription) {
	delete(h.blocks, sub)
	if set := h.txs[sub.tx]; set != nil {
		delete(set, sub)
		if len(set) == 0 {
			delete(h.txs, sub.tx)
		}
	}
}

// removeConn removes every subscription of a closed connection.
func (h *blockHub) removeConn(c *wsConn) {
	subs := c.allSubs()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, sub := range subs {
		h.removeLocked(sub)
	}
}

// counts returns the numbers of block and tx subscriptions, for tests and
// metrics.
func (h *blockHub) counts() (blocks, txs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.txs {
		txs += len(set)
	}
	return len(h.blocks), txs
}

// stop ends delivery and waits for the delivering goroutine.
func (h *blockHub) stop() {
	h.mu.Lock()
	if !h.stopped {
		h.stopped = true
		close(h.quit)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *blockHub) run(ch <-chan *ledger.Block, cancel func()) {
	defer h.wg.Done()
	defer cancel()
	for {
		select {
		case <-h.quit:
			return
		case b, ok := <-ch:
			if !ok {
				// The node closed its feed (shutting down); a later
				// subscription subscribes again.
				h.mu.Lock()
				h.running = false
				h.mu.Unlock()
				return
			}
			h.deliver(b)
		}
	}
}

// deliver sends b's header to every block subscription and the receipt of
// each of b's txs that a tx subscription waits for.
func (h *blockHub) deliver(b *ledger.Block) {
	header, err := json.Marshal(NewBlockHeader(b))
	if err != nil {
		h.log.Error("rpc: encode block header", "err", err)
		return
	}
	type txHit struct {
		sub   *subscription
		index int
	}
	h.mu.Lock()
	blockSubs := make([]*subscription, 0, len(h.blocks))
	for sub := range h.blocks {
		blockSubs = append(blockSubs, sub)
	}
	var hits []txHit
	if len(h.txs) > 0 {
		for i, tx := range b.Txs {
			hash := tx.Hash()
			for sub := range h.txs[hash] {
				hits = append(hits, txHit{sub, i})
			}
			delete(h.txs, hash)
		}
	}
	h.mu.Unlock()
	for _, sub := range blockSubs {
		sub.send(header)
	}
	blockHash := b.Hash()
	for _, hit := range hits {
		receipt := NewCommittedTransaction(b.Txs[hit.index], b.Header.Height, hit.index, blockHash)
		fireTx(hit.sub, receipt, h.log)
	}
}

// fireTx sends a tx subscription's one receipt, unless it already went.
func fireTx(sub *subscription, receipt *Transaction, log *slog.Logger) {
	if !sub.fired.CompareAndSwap(false, true) {
		return
	}
	raw, err := json.Marshal(receipt)
	if err != nil {
		log.Error("rpc: encode receipt", "err", err)
		return
	}
	// Ended before the receipt leaves: a client that unsubscribes as soon
	// as it reads the receipt must find the subscription gone.
	sub.conn.removeSub(sub.id)
	sub.send(raw)
}

// subscribe: ["newBlocks"] or ["tx", txHash] → subscription id (WebSocket
// only). A "tx" subscription sends one notification, the committed
// receipt, then ends by itself; if the tx is already committed that
// notification follows the reply at once.
func (api *synodAPI) subscribe(_ context.Context, c *Call) (any, error) {
	if c.conn == nil {
		return nil, &Error{Code: CodeMethodNotFound, Message: "notifications not supported over HTTP: subscribe on the WebSocket endpoint /ws"}
	}
	if err := c.Params.count(1, 2); err != nil {
		return nil, err
	}
	kind, perr := c.Params.String(0, "kind")
	if perr != nil {
		return nil, perr
	}
	sub := &subscription{id: newSubscriptionID(), kind: kind, conn: c.conn}
	switch kind {
	case SubscriptionNewBlocks:
		if err := c.Params.count(1, 1); err != nil {
			return nil, err
		}
	case SubscriptionTx:
		if err := c.Params.count(2, 2); err != nil {
			return nil, err
		}
		if sub.tx, perr = c.Params.Hash(1, "txHash"); perr != nil {
			return nil, perr
		}
	default:
		return nil, errInvalidParams(`param 0 (kind) must be "newBlocks" or "tx"`)
	}
	if err := c.conn.addSub(sub, api.cfg.SubscriptionsPerConnMax); err != nil {
		return nil, err
	}
	if !api.hub.add(sub) {
		c.conn.removeSub(sub.id)
		return nil, &Error{Code: CodeUnavailable, Message: "connection closing"}
	}
	c.afterReply = func() {
		sub.arm()
		if kind == SubscriptionTx {
			api.fireIfCommitted(sub)
		}
	}
	return sub.id, nil
}

// fireIfCommitted covers a tx that committed before its subscription was
// added to the hub.
func (api *synodAPI) fireIfCommitted(sub *subscription) {
	tx, height, index, err := api.b.Tx(sub.tx)
	if err != nil {
		if !errors.Is(err, ledger.ErrStoreNotFound) {
			api.hub.log.Warn("rpc: tx subscription lookup", "tx", sub.tx.Short(), "err", err)
		}
		return
	}
	b, err := api.b.BlockByHeight(height)
	if err != nil {
		api.hub.log.Warn("rpc: tx subscription block lookup", "height", height, "err", err)
		return
	}
	api.hub.remove(sub)
	fireTx(sub, NewCommittedTransaction(tx, height, index, b.Hash()), api.hub.log)
}

// unsubscribe: [subscriptionId] → whether the connection had it.
func (api *synodAPI) unsubscribe(_ context.Context, c *Call) (any, error) {
	if c.conn == nil {
		return nil, &Error{Code: CodeMethodNotFound, Message: "notifications not supported over HTTP: unsubscribe on the WebSocket endpoint /ws"}
	}
	if err := c.Params.count(1, 1); err != nil {
		return nil, err
	}
	id, perr := c.Params.String(0, "subscriptionId")
	if perr != nil {
		return nil, perr
	}
	sub, ok := c.conn.removeSub(id)
	if ok {
		api.hub.remove(sub)
	}
	return ok, nil
}
