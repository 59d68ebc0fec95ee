package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/synod-chain/synod/ledger"
)

// BlockSource serves block sync. ledger.Store satisfies it.
type BlockSource interface {
	// Head is the committed head's header.
	Head() ledger.Header
	// EncodedBlock is the canonical encoding of the block at height: the
	// server passes it on without decoding it.
	EncodedBlock(height uint64) ([]byte, error)
	// EncodedCertificate is the encoding of the commit certificate of the
	// block at height; the genesis block has none.
	EncodedCertificate(height uint64) ([]byte, error)
}

var _ BlockSource = (*ledger.Store)(nil)

const (
	// syncWriteBufferBytes batches a response's small items into one write.
	// Each serving slot has one, outside SyncServeBytesMax: blocks larger
	// than it go from the store's copy to the stream, uncopied.
	syncWriteBufferBytes = 256 << 10
	// syncServePerPeerMax bounds the blocks requests served to one peer at
	// once. Without a share per peer, a validator holding its 4 sync
	// streams open (reading slowly, up to SyncTimeout each) took 4 of the
	// 8 default slots, and two such validators refused every other
	// validator's catch-up. An honest client asks one peer one batch at a
	// time, but it sends the next request as soon as it has read the last
	// byte of a response, which can be before this server's handler has
	// given that response's slot back; a refusal then would fail the peer
	// for the rest of the client's sync pass. Two slots leave room for
	// that, and f Byzantine validators still hold at most 2f.
	syncServePerPeerMax = 2
	// syncServeReservePeers is how many peers' full shares the serving
	// slots keep beyond the f Byzantine validators' (syncServeSlots), for
	// honest validators catching up. Two: the default 8 slots are the
	// rule at f = 2.
	syncServeReservePeers = 2
)

// syncServeSlots is the number of blocks requests a host serves at once:
// SyncServeConcurrencyMax, raised for a validator set of n = ValidatorCount
// to syncServePerPeerMax × (f + syncServeReservePeers), f = (n-1)/3 (as
// ledger.ValidatorSet.F). The f Byzantine validators, holding their share
// each by reading slowly, then always leave syncServeReservePeers honest
// peers theirs. With a fixed 8, any 4 Byzantine validators (n >= 13
// tolerates them) held every slot and starved every other's catch-up,
// and 8 (n >= 25) every inbound sync stream too (resourceManager sizes
// those from this). The cap stays linear in n: at most 2(n-1)/3 + 4, 174
// at ledger.ValidatorsMax; each slot has a 256-KiB write buffer, and the
// blocks they all hold are bounded by SyncServeBytesMax, not by the slots.
// n = 0 (unknown) keeps SyncServeConcurrencyMax.
func (c *Config) syncServeSlots() int {
	if c.ValidatorCount < 1 {
		return c.SyncServeConcurrencyMax
	}
	return max(c.SyncServeConcurrencyMax, syncServePerPeerMax*(c.faultyValidators()+syncServeReservePeers))
}

// syncServePeerBytes is the most block and certificate bytes the requests
// served to one peer hold at once: SyncServeBytesMax / (f +
// syncServeReservePeers), f as syncServeSlots has it (0 if n is unknown).
// Without a share, a peer's two slots each held a block while it read
// slowly, so two Byzantine validators asking for 16-MiB blocks held the
// whole 64-MiB budget for SyncTimeout and every honest catch-up waited.
// With it the f Byzantine validators hold at most f/(f+2) of the budget
// and always leave two honest peers a full share each, as the slots leave
// two of them theirs; f+1 would leave only one share for every honest
// peer catching up at once. A peer that holds nothing may still take one
// block larger than its share (byteBudget), so with blocks larger than
// the share (full 16-MiB blocks from f = 2 at 64 MiB) the f may hold a
// block each, which fills the budget from f = 4: a set that large with
// blocks that large wants SyncServeBytesMax of (f + 2) blocks.
func (c *Config) syncServePeerBytes() int64 {
	return int64(c.SyncServeBytesMax) / int64(c.faultyValidators()+syncServeReservePeers)
}

// faultyValidators is f = (n-1)/3 for n = ValidatorCount (as
// ledger.ValidatorSet.F), 0 if n is unknown.
func (c *Config) faultyValidators() int {
	if c.ValidatorCount < 1 {
		return 0
	}
	return (c.ValidatorCount - 1) / 3
}

// blockSync serves and requests blocks with their certificates.
type blockSync struct {
	n      *Host
	proto  protocol.ID
	source BlockSource

	slots int // syncServeSlots of the host's config
	// budget bounds the block and certificate bytes that responses hold
	// while they write them: SyncServeBytesMax in all, syncServePeerBytes
	// for one peer. Each slot waits for at most one reservation at a time,
	// so its line is at most slots long.
	budget *byteBudget

	mu      sync.Mutex
	serving int             // blocks requests served now, at most slots
	perPeer map[peer.ID]int // the same by peer, at most syncServePerPeerMax; no zero entries
}

func startBlockSync(n *Host, source BlockSource) *blockSync {
	slots := n.cfg.syncServeSlots()
	b := &blockSync{n: n, proto: syncProtocol(n.cfg.ChainID), source: source, slots: slots,
		budget:  newByteBudget(int64(n.cfg.SyncServeBytesMax), n.cfg.syncServePeerBytes(), slots),
		perPeer: make(map[peer.ID]int)}
	n.h.SetStreamHandler(b.proto, b.serve)
	return b
}

// serve answers one request. The whole exchange has SyncTimeout; a busy
// server (all slots taken, or the peer's share) or one without a block
// source refuses instead of queueing, and so does a server asked by a
// peer outside the validator set (syncAllowed).
func (b *blockSync) serve(s network.Stream) {
	if !b.n.enter() {
		s.Reset()
		return
	}
	defer b.n.leave()
	defer s.Close()
	p := s.Conn().RemotePeer()
	now := time.Now()
	deadline := now.Add(b.n.cfg.SyncTimeout)
	// ctx ends with the stream's deadline or the host: it bounds a wait
	// for the serving byte budget as the deadline bounds every write.
	ctx, cancel := context.WithDeadline(b.n.ctx, deadline)
	defer cancel()
	if err := s.SetDeadline(deadline); err != nil {
		s.Reset()
		return
	}
	if err := s.SetReadDeadline(now.Add(min(b.n.cfg.SyncRequestReadTimeout, b.n.cfg.SyncTimeout))); err != nil {
		s.Reset()
		return
	}
	if !b.n.syncAllowed(p) {
		b.refuse(s)
		return
	}
	buf := make([]byte, syncRequestBytes)
	if _, err := io.ReadFull(s, buf); err != nil {
		b.n.log.Debug("read sync request", "peer", p, "err", err)
		s.Reset()
		return
	}
	req, err := DecodeSyncRequest(buf, b.n.cfg.SyncBlocksMax)
	if err != nil {
		b.n.Penalize(p, "malformed sync request")
		s.Reset()
		return
	}
	if b.source == nil {
		b.refuse(s)
		return
	}
	if req.Kind == syncKindStatus {
		if _, err := s.Write(encodeStatus(b.source.Head().Height)); err != nil {
			s.Reset()
		}
		return
	}
	if !b.acquire(p) {
		b.refuse(s)
		return
	}
	defer b.release(p)
	if err := b.writeBlocks(ctx, s, p, req); err != nil {
		b.n.log.Debug("serve blocks", "peer", p, "from", req.From, "err", err)
		s.Reset()
		return
	}
	b.n.stats.syncServed.Add(1)
}

// acquire takes a serving slot for p, if one is free in all and p holds
// fewer than its share.
func (b *blockSync) acquire(p peer.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.serving >= b.slots || b.perPeer[p] >= syncServePerPeerMax {
		return false
	}
	b.serving++
	b.perPeer[p]++
	return true
}

// release gives back p's slot, forgetting p when it holds none.
func (b *blockSync) release(p peer.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.serving--
	b.perPeer[p]--
	if b.perPeer[p] == 0 {
		delete(b.perPeer, p)
	}
}

func (b *blockSync) refuse(s network.Stream) {
	b.n.stats.syncRefused.Add(1)
	if _, err := s.Write([]byte{syncTagRefused}); err != nil {
		s.Reset()
	}
}

// writeBlocks streams blocks from req.From up to the head, stopping at
// req.Count, at SyncResponseBytesMax (after at least one block) or at the
// first block the source lacks. Each block and its certificate are held
// under the serving byte budget, and p's share of it, until they are
// written; the stream's write deadline bounds that, and ctx the wait for
// room.
func (b *blockSync) writeBlocks(ctx context.Context, s network.Stream, p peer.ID, req SyncRequest) error {
	w := bufio.NewWriterSize(s, syncWriteBufferBytes)
	head := b.source.Head().Height
	room := b.n.cfg.SyncResponseBytesMax - 1 // the end tag
	for i := uint64(0); i < uint64(req.Count) && req.From <= head && i <= head-req.From; i++ {
		blk, cert, held, err := b.holdBlock(ctx, p, req.From+i, room)
		if err != nil {
			return err
		}
		if !held {
			break
		}
		err = writeSyncItem(w, blk, cert)
		b.budget.release(p, int64(len(blk)+len(cert)))
		if err != nil {
			return err
		}
		room -= syncItemOverhead + len(blk) + len(cert)
		b.n.stats.syncBlocksServed.Add(1)
	}
	if err := w.WriteByte(syncTagEnd); err != nil {
		return err
	}
	return w.Flush()
}

// holdBlock reads block h and its certificate and reserves their bytes in
// the serving byte budget for p; the caller writes them, then releases the
// reservation. held is false, with no error, if the source lacks them or
// they would not fit in room (what is left of the response's bytes); an
// error means ctx ended while waiting for the budget.
//
// The store tells a block's size only by reading it, so a slot reads
// before it reserves. If the budget or p's share has no room, the slot
// drops what it read, waits in line for that many bytes, then reads the
// block again: a waiting slot holds no block. What the slots hold beyond
// SyncServeBytesMax (or one larger block, served alone) is thus a block
// each at most, and only between its read and the attempt to reserve it,
// where nothing waits on a peer; plus the write buffers.
func (b *blockSync) holdBlock(ctx context.Context, p peer.ID, h uint64, room int) (blk, cert []byte, held bool, err error) {
	blk, cert, ok := b.readBlock(h)
	if !ok || syncItemOverhead+len(blk)+len(cert) > room {
		return nil, nil, false, nil
	}
	n := int64(len(blk) + len(cert))
	if b.budget.tryReserve(p, n) {
		return blk, cert, true, nil
	}
	blk, cert = nil, nil // not kept alive while waiting, whatever the compiler sees
	if err = b.budget.reserve(ctx, p, n); err != nil {
		return nil, nil, false, fmt.Errorf("serving byte budget: block %d: %w", h, err)
	}
	blk, cert, ok = b.readBlock(h)
	if !ok || int64(len(blk)+len(cert)) != n {
		// A committed block never changes; a store that answers otherwise
		// ends the response here, as a missing block does.
		b.budget.release(p, n)
		return nil, nil, false, nil
	}
	return blk, cert, true, nil
}

// readBlock reads the block at height h and its certificate (none at
// genesis); ok is false if the source lacks either.
func (b *blockSync) readBlock(h uint64) (blk, cert []byte, ok bool) {
	blk, err := b.source.EncodedBlock(h)
	if err != nil {
		return nil, nil, false
	}
	if h > 0 {
		if cert, err = b.source.EncodedCertificate(h); err != nil {
			return nil, nil, false
		}
	}
	return blk, cert, true
}

// request opens a stream to p, sends req and hands the response reader to
// read, all within ctx and SyncTimeout.
func (b *blockSync) request(ctx context.Context, p peer.ID, req SyncRequest, read func(*bufio.Reader) error) error {
	if b.n.closed() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, b.n.cfg.SyncTimeout)
	defer cancel()
	s, err := b.n.h.NewStream(ctx, p, b.proto)
	if err != nil {
		return fmt.Errorf("open sync stream to %s: %w", p, err)
	}
	// A cancelled ctx resets the stream, unblocking any read or write.
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	deadline, _ := ctx.Deadline()
	if err := s.SetDeadline(deadline); err != nil {
		s.Reset()
		return fmt.Errorf("sync stream to %s: %w", p, err)
	}
	if _, err := s.Write(req.Encode()); err != nil {
		s.Reset()
		return fmt.Errorf("send sync request to %s: %w", p, err)
	}
	if err := s.CloseWrite(); err != nil {
		s.Reset()
		return fmt.Errorf("send sync request to %s: %w", p, err)
	}
	if err := read(bufio.NewReader(s)); err != nil {
		s.Reset()
		if errors.Is(err, ErrMalformed) {
			b.n.Penalize(p, "hostile sync response")
		}
		if ctx.Err() != nil {
			return fmt.Errorf("sync from %s: %w (%w)", p, ctx.Err(), err)
		}
		return fmt.Errorf("sync from %s: %w", p, err)
	}
	return s.Close()
}

// FetchBlocks asks p for count blocks from height from, with their commit
// certificates. The answer may hold fewer (p's head is lower, or the
// response hit SyncResponseBytesMax): ask again from the next height. The
// blocks are checked for order, range, chain id and that each certificate
// names its block; the caller verifies the certificates' signatures.
// Hostile responses wrap ErrMalformed and count as a penalty for p.
func (n *Host) FetchBlocks(ctx context.Context, p peer.ID, from uint64, count int) ([]SyncedBlock, error) {
	if count <= 0 || count > n.cfg.SyncBlocksMax {
		return nil, fmt.Errorf("fetch blocks: count %d not in 1..%d", count, n.cfg.SyncBlocksMax)
	}
	req := SyncRequest{Kind: syncKindBlocks, From: from, Count: uint32(count)}
	lim := syncLimits{chainID: n.cfg.ChainID, responseBytes: n.cfg.SyncResponseBytesMax, blockBytes: ledger.BlockBytesMax}
	var out []SyncedBlock
	err := n.sync.request(ctx, p, req, func(r *bufio.Reader) error {
		var err error
		out, err = readSyncResponse(r, req, lim)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fetch blocks %d+%d: %w", from, count, err)
	}
	return out, nil
}

// StatusOf asks p for its head height, to choose whom to sync from.
func (n *Host) StatusOf(ctx context.Context, p peer.ID) (uint64, error) {
	var head uint64
	err := n.sync.request(ctx, p, SyncRequest{Kind: syncKindStatus}, func(r *bufio.Reader) error {
		buf := make([]byte, syncStatusBytes+1)
		k, err := io.ReadFull(r, buf)
		switch {
		case k == 1 && buf[0] == syncTagRefused && errors.Is(err, io.ErrUnexpectedEOF):
			return ErrSyncRefused
		case k == syncStatusBytes && errors.Is(err, io.ErrUnexpectedEOF):
		case err == nil:
			return fmt.Errorf("sync status: %w: longer than %d bytes", ErrMalformed, syncStatusBytes)
		default:
			return fmt.Errorf("sync status: %w", err)
		}
		head, err = DecodeStatus(buf[:k])
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("status of %s: %w", p, err)
	}
	return head, nil
}
