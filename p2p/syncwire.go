package p2p

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/synod-chain/synod/ledger"
)

// Block sync wire format. One request per stream:
//
//	request:  version u8 = 1 | kind u8 | from u64 | count u32
//	status:   version u8 = 1 | head u64
//	blocks:   item* then end, where
//	  item  = tagBlock u8 | length u32 | block | length u32 | certificate
//	  end   = tagEnd u8
//	  refusal = tagRefused u8 (instead of any item)
//
// A certificate of length 0 is allowed at height 0 only: the genesis block
// is certified by the genesis document, not by votes.
const (
	syncVersion      = 1
	syncRequestBytes = 1 + 1 + 8 + 4
	syncStatusBytes  = 1 + 8
	syncKindStatus   = 1
	syncKindBlocks   = 2
	syncTagEnd       = 0
	syncTagBlock     = 1
	syncTagRefused   = 2
	syncItemOverhead = 1 + 4 + 4
)

// ErrSyncRefused is returned when a peer declines a block sync request
// (busy or no block source).
var ErrSyncRefused = errors.New("p2p: sync request refused")

// syncItemBytesMax is the largest item carrying a block of blockBytes.
func syncItemBytesMax(blockBytes int) int {
	return syncItemOverhead + blockBytes + ledger.CertificateBytesMax
}

// SyncRequest asks for Count blocks from height From, or for the peer's
// status when Kind is the status kind.
type SyncRequest struct {
	Kind  uint8
	From  uint64
	Count uint32
}

// Encode returns the request's wire form.
func (r SyncRequest) Encode() []byte {
	b := make([]byte, 0, syncRequestBytes)
	b = append(b, syncVersion, r.Kind)
	b = binary.BigEndian.AppendUint64(b, r.From)
	return binary.BigEndian.AppendUint32(b, r.Count)
}

// DecodeSyncRequest decodes a request and checks it is well-formed: a
// known kind, a status request with no range, a blocks request for 1 to
// blocksMax blocks.
func DecodeSyncRequest(b []byte, blocksMax int) (SyncRequest, error) {
	if len(b) != syncRequestBytes {
		return SyncRequest{}, fmt.Errorf("decode sync request: %w: %d bytes, want %d", ErrMalformed, len(b), syncRequestBytes)
	}
	if b[0] != syncVersion {
		return SyncRequest{}, fmt.Errorf("decode sync request: %w: version %d", ErrMalformed, b[0])
	}
	r := SyncRequest{Kind: b[1], From: binary.BigEndian.Uint64(b[2:]), Count: binary.BigEndian.Uint32(b[10:])}
	switch {
	case r.Kind == syncKindStatus && (r.From != 0 || r.Count != 0):
		return SyncRequest{}, fmt.Errorf("decode sync request: %w: status request with a range", ErrMalformed)
	case r.Kind == syncKindBlocks && (r.Count == 0 || uint64(r.Count) > uint64(blocksMax)):
		return SyncRequest{}, fmt.Errorf("decode sync request: %w: count %d not in 1..%d", ErrMalformed, r.Count, blocksMax)
	case r.Kind != syncKindStatus && r.Kind != syncKindBlocks:
		return SyncRequest{}, fmt.Errorf("decode sync request: %w: kind %d", ErrMalformed, r.Kind)
	}
	return r, nil
}

func encodeStatus(head uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{syncVersion}, head)
}

// DecodeStatus decodes a status response: the peer's head height.
func DecodeStatus(b []byte) (uint64, error) {
	if len(b) != syncStatusBytes || b[0] != syncVersion {
		return 0, fmt.Errorf("decode sync status: %w: %d bytes", ErrMalformed, len(b))
	}
	return binary.BigEndian.Uint64(b[1:]), nil
}

// writeSyncItem writes one block item as appendSyncItem encodes it,
// without copying the block into an item first: of a block larger than
// w's buffer, bufio copies only what fills the buffer and the tail, and
// passes the rest straight to the stream.
func writeSyncItem(w *bufio.Writer, block, cert []byte) error {
	var blockHead [1 + 4]byte
	blockHead[0] = syncTagBlock
	binary.BigEndian.PutUint32(blockHead[1:], uint32(len(block)))
	var certHead [4]byte
	binary.BigEndian.PutUint32(certHead[:], uint32(len(cert)))
	for _, part := range [][]byte{blockHead[:], block, certHead[:], cert} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// appendSyncItem appends one block item.
func appendSyncItem(dst, block, cert []byte) []byte {
	dst = append(dst, syncTagBlock)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(block)))
	dst = append(dst, block...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(cert)))
	return append(dst, cert...)
}

// SyncedBlock is a block served by a peer with its commit certificate, as
// decoded: the caller verifies the certificate against the validator set
// before trusting the block. Certificate is nil for height 0 only.
type SyncedBlock struct {
	Block       *ledger.Block
	Certificate *ledger.CommitCertificate
}

// syncLimits bound what a client reads from one response.
type syncLimits struct {
	chainID       string
	responseBytes int
	blockBytes    int
}

// ReadSyncResponse reads a blocks response for req from r, trusting
// nothing: every length is checked against the limits before it is read,
// blocks must be on chainID, in order from req.From, at most req.Count,
// each linked to the previous by its parent hash, each certificate must
// name its block, and nothing may follow the end tag.
func ReadSyncResponse(r io.Reader, req SyncRequest, chainID string, responseBytesMax int) ([]SyncedBlock, error) {
	return readSyncResponse(bufio.NewReader(r), req, syncLimits{chainID: chainID, responseBytes: responseBytesMax, blockBytes: ledger.BlockBytesMax})
}

func readSyncResponse(r *bufio.Reader, req SyncRequest, lim syncLimits) ([]SyncedBlock, error) {
	var out []SyncedBlock
	budget := lim.responseBytes
	for {
		tag, err := r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("sync response: item tag: %w", err)
		}
		budget--
		switch tag {
		case syncTagEnd:
			// Only a byte after the end tag breaks the protocol; a stream
			// that fails before its end arrives (a deadline, a reset) is
			// no proof against the server.
			switch _, err := r.ReadByte(); {
			case err == nil:
				return nil, fmt.Errorf("sync response: %w: data after the end tag", ErrMalformed)
			case err != io.EOF:
				return nil, fmt.Errorf("sync response: end of stream: %w", err)
			}
			return out, nil
		case syncTagRefused:
			if len(out) > 0 {
				return nil, fmt.Errorf("sync response: %w: refusal after %d blocks", ErrMalformed, len(out))
			}
			return nil, ErrSyncRefused
		case syncTagBlock:
		default:
			return nil, fmt.Errorf("sync response: %w: item tag %d", ErrMalformed, tag)
		}
		if uint64(len(out)) >= uint64(req.Count) {
			return nil, fmt.Errorf("sync response: %w: more than the %d blocks asked for", ErrMalformed, req.Count)
		}
		height := req.From + uint64(len(out))
		if height < req.From {
			return nil, fmt.Errorf("sync response: %w: height overflows", ErrMalformed)
		}
		sb, used, err := readSyncItem(r, height, budget, lim)
		if err != nil {
			return nil, err
		}
		budget -= used
		if n := len(out); n > 0 && sb.Block.Header.ParentHash != out[n-1].Block.Hash() {
			return nil, fmt.Errorf("sync response: %w: block %d does not extend block %d", ErrMalformed, height, height-1)
		}
		out = append(out, sb)
	}
}

// readSyncItem reads one item's block and certificate (after its tag).
func readSyncItem(r *bufio.Reader, height uint64, budget int, lim syncLimits) (SyncedBlock, int, error) {
	blockRaw, err := readSized(r, min(lim.blockBytes, budget-8), "block")
	if err != nil {
		return SyncedBlock{}, 0, err
	}
	budget -= 4 + len(blockRaw)
	certRaw, err := readSized(r, min(ledger.CertificateBytesMax, budget-4), "certificate")
	if err != nil {
		return SyncedBlock{}, 0, err
	}
	used := 8 + len(blockRaw) + len(certRaw)
	b, err := ledger.DecodeBlock(blockRaw)
	if err != nil {
		return SyncedBlock{}, 0, fmt.Errorf("sync response: %w: block %d: %w", ErrMalformed, height, err)
	}
	if b.Header.Height != height || b.Header.ChainID != lim.chainID {
		return SyncedBlock{}, 0, fmt.Errorf("sync response: %w: got block %d on %q, want %d on %q",
			ErrMalformed, b.Header.Height, b.Header.ChainID, height, lim.chainID)
	}
	sb := SyncedBlock{Block: b}
	if len(certRaw) == 0 {
		if height != 0 {
			return SyncedBlock{}, 0, fmt.Errorf("sync response: %w: block %d without a certificate", ErrMalformed, height)
		}
		return sb, used, nil
	}
	c, err := ledger.DecodeCommitCertificate(certRaw)
	if err != nil {
		return SyncedBlock{}, 0, fmt.Errorf("sync response: %w: certificate %d: %w", ErrMalformed, height, err)
	}
	if c.Height != height || c.BlockHash != b.Hash() {
		return SyncedBlock{}, 0, fmt.Errorf("sync response: %w: certificate for height %d does not name block %d", ErrMalformed, c.Height, height)
	}
	sb.Certificate = c
	return sb, used, nil
}

// readSized reads a u32 length and that many bytes, refusing a length
// above limit before allocating.
func readSized(r *bufio.Reader, limit int, what string) ([]byte, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("sync response: %s length: %w", what, err)
	}
	n := binary.BigEndian.Uint32(lenBuf[:])
	if limit < 0 || uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("sync response: %w: %s of %d bytes exceeds %d", ErrMalformed, what, n, max(limit, 0))
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("sync response: %s body: %w", what, err)
	}
	return b, nil
}
