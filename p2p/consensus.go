package p2p

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Consensus frame wire format, repeated on one long-lived stream:
//
//	version u8 = 1 | length u32 | length bytes of message
const (
	frameVersion     = 1
	frameHeaderBytes = 1 + 4
	// frameWriteBufferBytes batches small frames into one write.
	frameWriteBufferBytes = 64 << 10
)

// Errors of the consensus transport callers branch on.
var (
	ErrNotValidator    = errors.New("p2p: peer is not a validator")
	ErrMessageTooLarge = errors.New("p2p: message too large")
)

func appendFrameHeader(dst []byte, n int) []byte {
	dst = append(dst, frameVersion)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// DecodeFrameHeader returns the message length a frame header announces,
// refusing another version or a length above bytesMax.
func DecodeFrameHeader(h []byte, bytesMax int) (int, error) {
	if len(h) != frameHeaderBytes {
		return 0, fmt.Errorf("decode frame header: %w: %d bytes, want %d", ErrMalformed, len(h), frameHeaderBytes)
	}
	if h[0] != frameVersion {
		return 0, fmt.Errorf("decode frame header: %w: version %d, want %d", ErrMalformed, h[0], frameVersion)
	}
	n := binary.BigEndian.Uint32(h[1:])
	if uint64(n) > uint64(bytesMax) {
		return 0, fmt.Errorf("decode frame header: %w: %d bytes exceeds %d", ErrMalformed, n, bytesMax)
	}
	return int(n), nil
}

// consensusTransport keeps one outbound stream per validator, fed by a
// bounded queue and a writer goroutine, and reads inbound streams into a
// fair inbox drained by one dispatcher goroutine.
type consensusTransport struct {
	n       *Host
	proto   protocol.ID
	deliver func(peer.ID, []byte)
	inbox   *inbox

	mu      sync.Mutex
	links   map[peer.ID]*outLink
	inbound map[peer.ID]network.Stream // newest inbound stream per peer
	closed  bool
}

// outLink is the outbound half towards one validator.
type outLink struct {
	peer   peer.ID
	mu     sync.Mutex
	queue  *msgQueue
	signal chan struct{} // a message was queued
	kick   chan struct{} // the peer (re)connected: retry now
	ctx    context.Context
	cancel context.CancelFunc
}

func startConsensus(n *Host, deliver func(peer.ID, []byte)) *consensusTransport {
	t := &consensusTransport{n: n, proto: consensusProtocol(n.cfg.ChainID), deliver: deliver,
		inbox: newInbox(n.cfg.ConsensusQueueLen, n.cfg.ConsensusQueueBytesMax, n.cfg.ConsensusInboxBytesMax),
		links: make(map[peer.ID]*outLink), inbound: make(map[peer.ID]network.Stream)}
	n.h.SetStreamHandler(t.proto, t.handleStream)
	n.wg.Add(1)
	go t.dispatch()
	return t
}

func (t *consensusTransport) setValidators(vals map[peer.ID]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	for p, l := range t.links {
		if !vals[p] {
			l.cancel()
			delete(t.links, p)
			if s := t.inbound[p]; s != nil {
				s.Reset()
				delete(t.inbound, p)
			}
		}
	}
	for p := range vals {
		if t.links[p] != nil {
			continue
		}
		l := &outLink{peer: p, queue: newMsgQueue(t.n.cfg.ConsensusQueueLen, t.n.cfg.ConsensusQueueBytesMax),
			signal: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
		l.ctx, l.cancel = context.WithCancel(t.n.ctx)
		t.links[p] = l
		t.n.wg.Add(1)
		go t.runLink(l)
	}
}

func (t *consensusTransport) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, l := range t.links {
		l.cancel()
	}
}

// peerConnected makes a link waiting out a backoff retry at once.
func (t *consensusTransport) peerConnected(p peer.ID) {
	t.mu.Lock()
	l := t.links[p]
	t.mu.Unlock()
	if l != nil {
		notify(l.kick)
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// SendConsensus queues msg for validator to. It never blocks: when the
// peer's queue is full the oldest queued message is dropped and counted in
// Stats.ConsensusOutboundDropped. The host keeps msg; do not modify it.
func (n *Host) SendConsensus(to peer.ID, msg []byte) error {
	if err := n.checkConsensusMsg(msg); err != nil {
		return err
	}
	n.cons.mu.Lock()
	l := n.cons.links[to]
	n.cons.mu.Unlock()
	if l == nil {
		return fmt.Errorf("send consensus to %s: %w", to, ErrNotValidator)
	}
	n.cons.enqueue(l, msg)
	return nil
}

// BroadcastConsensus queues msg for every validator but this host. A
// validator that is disconnected gets it on reconnection if it is still
// queued then. The host keeps msg; do not modify it.
func (n *Host) BroadcastConsensus(msg []byte) error {
	if err := n.checkConsensusMsg(msg); err != nil {
		return err
	}
	n.cons.mu.Lock()
	links := make([]*outLink, 0, len(n.cons.links))
	for _, l := range n.cons.links {
		links = append(links, l)
	}
	n.cons.mu.Unlock()
	for _, l := range links {
		n.cons.enqueue(l, msg)
	}
	return nil
}

func (n *Host) checkConsensusMsg(msg []byte) error {
	if n.closed() {
		return ErrClosed
	}
	if len(msg) > n.cfg.ConsensusMessageBytesMax {
		return fmt.Errorf("consensus message: %w: %d bytes exceeds %d", ErrMessageTooLarge, len(msg), n.cfg.ConsensusMessageBytesMax)
	}
	return nil
}

func (t *consensusTransport) enqueue(l *outLink, msg []byte) {
	l.mu.Lock()
	dropped := l.queue.push(msg)
	l.mu.Unlock()
	if dropped > 0 {
		t.n.stats.consOutDropped.Add(uint64(dropped))
	}
	notify(l.signal)
}

// runLink writes l's queue to one stream, reopening it with backoff after
// a failure, until the link is removed or the host closes.
func (t *consensusTransport) runLink(l *outLink) {
	defer t.n.wg.Done()
	log := t.n.log.With("peer", l.peer, "protocol", t.proto)
	var s network.Stream
	var w *bufio.Writer
	defer func() {
		if s != nil {
			s.Reset()
		}
	}()
	failures := 0
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-l.signal:
		}
		for l.ctx.Err() == nil {
			l.mu.Lock()
			batch := l.queue.takeAll()
			l.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			if s == nil {
				var err error
				if s, err = t.open(l); err != nil {
					t.requeue(l, batch)
					t.failed(log, "open consensus stream", err, &failures, l)
					continue
				}
				w = bufio.NewWriterSize(s, frameWriteBufferBytes)
			}
			if err := t.writeFrames(s, w, batch); err != nil {
				s.Reset()
				s = nil
				t.requeue(l, batch)
				t.failed(log, "write consensus stream", err, &failures, l)
				continue
			}
			failures = 0
			t.n.stats.consSent.Add(uint64(len(batch)))
		}
	}
}

func (t *consensusTransport) open(l *outLink) (network.Stream, error) {
	if !t.n.gater.allowed(l.peer) {
		return nil, errGated
	}
	ctx, cancel := context.WithTimeout(l.ctx, t.n.cfg.DialTimeout)
	defer cancel()
	s, err := t.n.h.NewStream(ctx, l.peer, t.proto)
	if err != nil {
		return nil, err
	}
	// The stream is write-only, but its read half stays open: on QUIC,
	// CloseRead sends STOP_SENDING, which fails the reader's CloseWrite
	// and made it reset the stream.
	return s, nil
}

func (t *consensusTransport) writeFrames(s network.Stream, w *bufio.Writer, batch [][]byte) error {
	if err := s.SetWriteDeadline(time.Now().Add(t.n.cfg.ConsensusWriteTimeout)); err != nil {
		return err
	}
	var hdr [frameHeaderBytes]byte
	for _, m := range batch {
		if _, err := w.Write(appendFrameHeader(hdr[:0], len(m))); err != nil {
			return err
		}
		if _, err := w.Write(m); err != nil {
			return err
		}
	}
	return w.Flush()
}

// requeue puts a batch that may not have been delivered back at the head
// of the queue. The receiver may see some messages twice; consensus
// messages are idempotent, lost ones are not harmless.
func (t *consensusTransport) requeue(l *outLink, batch [][]byte) {
	l.mu.Lock()
	dropped := l.queue.pushFront(batch)
	l.mu.Unlock()
	if dropped > 0 {
		t.n.stats.consOutDropped.Add(uint64(dropped))
	}
}

// failed logs, counts and sleeps a capped jittered backoff (cut short
// when the peer connects), then makes the link look at its queue again.
func (t *consensusTransport) failed(log *slog.Logger, what string, err error, failures *int, l *outLink) {
	t.n.stats.consStreamErrors.Add(1)
	delay := t.n.backoff(*failures)
	*failures++
	log.Debug(what, "err", err, "retry_in", delay)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-l.ctx.Done():
	case <-timer.C:
	case <-l.kick:
	}
}

// handleStream reads frames from a validator's stream into the inbox.
func (t *consensusTransport) handleStream(s network.Stream) {
	p := s.Conn().RemotePeer()
	if !t.n.isValidator(p) {
		t.n.stats.consRefused.Add(1)
		s.Reset()
		return
	}
	if !t.n.enter() {
		s.Reset()
		return
	}
	defer t.n.leave()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		s.Reset()
		return
	}
	// A reconnecting peer opens a new stream before the old one is known
	// dead; only the newest is read.
	if old := t.inbound[p]; old != nil {
		old.Reset()
	}
	t.inbound[p] = s
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		if t.inbound[p] == s {
			delete(t.inbound, p)
		}
		t.mu.Unlock()
		s.Reset()
	}()
	// This side never writes. The error of announcing it is of no
	// consequence (a QUIC peer may already have stopped its read half),
	// so it must not end the stream.
	_ = s.CloseWrite()
	r := bufio.NewReaderSize(s, frameWriteBufferBytes)
	for {
		msg, err := t.readFrame(s, r)
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				t.n.Penalize(p, "malformed consensus frame")
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, network.ErrReset) {
				t.n.stats.consStreamErrors.Add(1)
				t.n.log.Debug("read consensus stream", "peer", p, "err", err)
			}
			return
		}
		if dropped := t.inbox.push(p, msg); dropped > 0 {
			t.n.stats.consInDropped.Add(uint64(dropped))
		}
	}
}

// readFrame waits for a header as long as the stream lives (an idle
// validator sends nothing), then gives the body ConsensusReadTimeout.
func (t *consensusTransport) readFrame(s network.Stream, r *bufio.Reader) ([]byte, error) {
	if err := s.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	var hdr [frameHeaderBytes]byte
	if _, err := r.ReadByte(); err != nil {
		return nil, err
	}
	if err := r.UnreadByte(); err != nil {
		return nil, err
	}
	if err := s.SetReadDeadline(time.Now().Add(t.n.cfg.ConsensusReadTimeout)); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("frame header: %w", err)
	}
	size, err := DecodeFrameHeader(hdr[:], t.n.cfg.ConsensusMessageBytesMax)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, size)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, fmt.Errorf("frame body of %d bytes: %w", size, err)
	}
	return msg, nil
}

// dispatch hands inbound messages to OnConsensus one at a time.
func (t *consensusTransport) dispatch() {
	defer t.n.wg.Done()
	for {
		select {
		case <-t.n.ctx.Done():
			return
		case <-t.inbox.signal:
		}
		for t.n.ctx.Err() == nil {
			p, msg, ok := t.inbox.next()
			if !ok {
				break
			}
			t.n.stats.consReceived.Add(1)
			if t.deliver != nil {
				t.deliver(p, msg)
			}
		}
	}
}

// inboxLen is how many inbound messages wait for OnConsensus.
func (t *consensusTransport) inboxLen() int {
	t.inbox.mu.Lock()
	defer t.inbox.mu.Unlock()
	n := 0
	for _, q := range t.inbox.queues {
		n += q.len()
	}
	return n
}
