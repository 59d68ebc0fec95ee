package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// wsConn is one WebSocket connection: a reader that runs requests in
// order, a writer that drains one bounded queue of replies and
// notifications, a pinger, and the connection's subscriptions.
type wsConn struct {
	srv *Server
	ws  *websocket.Conn
	out chan outMessage
	// replyBytes is the size of the replies queued and not yet written;
	// the reader waits for room under WSReplyBytesMax, woken through
	// written.
	replyBytes atomic.Int64
	written    chan struct{}

	// done is closed when the connection is closing; writers stop.
	done      chan struct{}
	closeOnce sync.Once
	closed    chan struct{} // closed when the close handshake is over
	// writeCtx is cancelled on close, ending a write stuck on a peer
	// that does not read.
	writeCtx    context.Context
	cancelWrite context.CancelFunc

	mu   sync.Mutex
	subs map[string]*subscription
}

// outMessage is one message queued for the writer.
type outMessage struct {
	data  []byte
	reply bool // a reply, counted in replyBytes; else a notification
}

// serveWS upgrades to WebSocket and serves the connection until it closes.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closing := s.closing
	if !closing {
		s.connsWG.Add(1)
	}
	s.mu.Unlock()
	if closing {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.connsWG.Done()
	select {
	case s.wsSlots <- struct{}{}:
		defer func() { <-s.wsSlots }()
	default:
		http.Error(w, "too many WebSocket connections", http.StatusServiceUnavailable)
		return
	}
	// The http.Server's read and write deadlines would otherwise stay on
	// the hijacked connection and cut it after ReadTimeout; the WebSocket
	// has its own per-write timeout and pings instead.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:     s.wsOriginPatterns(),
		InsecureSkipVerify: s.allowsAnyOrigin(),
	})
	if err != nil {
		s.log.Debug("rpc: websocket accept", "err", err)
		return
	}
	ws.SetReadLimit(s.cfg.RequestBytesMax)
	c := &wsConn{
		srv:     s,
		ws:      ws,
		out:     make(chan outMessage, s.cfg.WSQueueMessagesMax),
		written: make(chan struct{}, 1),
		done:    make(chan struct{}),
		closed:  make(chan struct{}),
		subs:    make(map[string]*subscription),
	}
	c.writeCtx, c.cancelWrite = context.WithCancel(context.Background())
	if !s.track(c) {
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer s.untrack(c)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.writeLoop() }()
	go func() { defer wg.Done(); c.pingLoop() }()
	c.readLoop()
	c.close(websocket.StatusNormalClosure, "")
	s.hub.removeConn(c)
	wg.Wait()
	<-c.closed
}

func (s *Server) track(c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *wsConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// wsOriginPatterns turns CORSOrigins ("https://wallet.example") into the
// host patterns the WebSocket library matches.
func (s *Server) wsOriginPatterns() []string {
	var hosts []string
	for _, o := range s.cfg.CORSOrigins {
		if u, ok := cutScheme(o); ok {
			hosts = append(hosts, u)
		} else {
			hosts = append(hosts, o)
		}
	}
	return hosts
}

func cutScheme(origin string) (string, bool) {
	for _, p := range []string{"https://", "http://"} {
		if len(origin) > len(p) && origin[:len(p)] == p {
			return origin[len(p):], true
		}
	}
	return "", false
}

func (s *Server) allowsAnyOrigin() bool {
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" {
			return true
		}
	}
	return false
}

// readLoop runs each message's requests in order until the peer goes.
// Its reads are not cancelled on close: close's handshake ends them, so
// the peer receives the close status and reason first.
func (c *wsConn) readLoop() {
	ctx := context.Background()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		reply, hooks := c.srv.disp.handle(ctx, data, c)
		if reply != nil && !c.queueReply(reply) {
			return
		}
		for _, h := range hooks {
			h()
		}
	}
}

// queueReply queues a reply once the replies ahead of it leave room for
// it within WSReplyBytesMax (one larger than that waits for an empty
// queue), and reports false if the connection closed first. A peer that
// sends requests but never reads stalls only itself, holding a bounded
// amount of replies, until the write timeout closes it.
func (c *wsConn) queueReply(reply []byte) bool {
	size, max := int64(len(reply)), c.srv.cfg.WSReplyBytesMax
	for queued := c.replyBytes.Load(); queued > 0 && queued+size > max; queued = c.replyBytes.Load() {
		select {
		case <-c.written:
		case <-c.done:
			return false
		}
	}
	c.replyBytes.Add(size)
	select {
	case c.out <- outMessage{data: reply, reply: true}:
		return true
	case <-c.done:
		return false
	}
}

// writeLoop writes queued messages, each within WriteTimeout.
func (c *wsConn) writeLoop() {
	for {
		select {
		case <-c.done:
			return
		case msg := <-c.out:
			ctx, cancel := context.WithTimeout(c.writeCtx, c.srv.cfg.WriteTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, msg.data)
			cancel()
			if msg.reply {
				c.replyBytes.Add(-int64(len(msg.data)))
				select {
				case c.written <- struct{}{}:
				default: // the reader has a wake-up pending already
				}
			}
			if err != nil {
				c.close(websocket.StatusGoingAway, "write failed")
				return
			}
		}
	}
}

// pingLoop pings the peer; one that does not answer is closed.
func (c *wsConn) pingLoop() {
	t := time.NewTicker(c.srv.cfg.WSPingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.writeCtx, c.srv.cfg.WriteTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				c.close(websocket.StatusGoingAway, "ping timeout")
				return
			}
		}
	}
}

// close ends the connection once, with a status and reason for the peer.
// The close handshake runs in its own goroutine: the caller may be the
// block hub, which must never wait on one peer.
func (c *wsConn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		close(c.done)
		c.cancelWrite()
		go func() {
			defer close(c.closed)
			_ = c.ws.Close(code, reason)
		}()
	})
}

// notify queues a subscription notification without waiting; a peer
// whose queue is full is too slow and is dropped.
func (c *wsConn) notify(subID string, result json.RawMessage) {
	msg, err := json.Marshal(struct {
		JSONRPC string       `json:"jsonrpc"`
		Method  string       `json:"method"`
		Params  Notification `json:"params"`
	}{jsonrpcVersion, Namespace + "_subscription", Notification{Subscription: subID, Result: result}})
	if err != nil {
		c.srv.log.Error("rpc: encode notification", "err", err)
		return
	}
	select {
	case <-c.done:
	case c.out <- outMessage{data: msg}:
	default:
		c.srv.log.Warn("rpc: dropping slow WebSocket subscriber", "queue", cap(c.out))
		c.close(websocket.StatusPolicyViolation, "subscriber too slow")
	}
}

// addSub records a subscription unless the connection has its limit.
func (c *wsConn) addSub(sub *subscription, limit int) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.subs) >= limit {
		return &Error{Code: CodeSubscriptionLimit, Message: "subscription limit reached"}
	}
	c.subs[sub.id] = sub
	return nil
}

// removeSub forgets a subscription and returns it, if it was here.
func (c *wsConn) removeSub(id string) (*subscription, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sub, ok := c.subs[id]
	delete(c.subs, id)
	return sub, ok
}

func (c *wsConn) allSubs() []*subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		out = append(out, s)
	}
	return out
}

func (c *wsConn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// newSubscriptionID returns 16 random bytes as 0x-hex.
func newSubscriptionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "0x" + hex.EncodeToString(b[:])
}
