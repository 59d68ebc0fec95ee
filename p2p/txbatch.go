package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/synod-chain/synod/ledger"
)

// Errors for input from peers. ErrMalformed wraps ErrInvalid: a message
// that does not decode is provably invalid.
var (
	// ErrInvalid marks provably invalid input. ValidateTx returns errors
	// wrapping it for txs whose sender deserves punishment.
	ErrInvalid = errors.New("p2p: invalid")
	// ErrMalformed wraps every decoding failure of a wire message.
	ErrMalformed = fmt.Errorf("%w: malformed message", ErrInvalid)
)

// Tx batch wire format (a gossip message's payload):
//
//	version u8 = 2 | publication u64 | count u32 | count × (length u16 | canonical tx)
//
// count is at least 1 and no tx appears twice, so one message cannot make
// a validator check the same tx again and again. publication is random per
// publish: gossip names a message by the hash of its payload and silently
// drops a payload it has seen in the last two minutes, so without it a
// node re-gossiping the very batch that once reached no peer (published
// before any peer subscribed) would be ignored, by its own router too,
// until that memory expires. Forwarded copies keep the bytes and stay one
// message.
const (
	txBatchVersion     = 2
	txBatchHeaderBytes = 1 + 8 + 4
	txLengthBytes      = 2
)

// EncodeTxBatch encodes txs as one gossip payload. Callers keep the count
// and size within their limits (PublishTxs splits batches).
func EncodeTxBatch(txs []*ledger.Tx) []byte {
	encs := make([][]byte, len(txs))
	for i, tx := range txs {
		encs[i] = tx.Encode()
	}
	return encodeTxBatch(rand.Uint64(), encs)
}

func encodeTxBatch(publication uint64, encs [][]byte) []byte {
	size := txBatchHeaderBytes
	for _, e := range encs {
		size += txLengthBytes + len(e)
	}
	b := make([]byte, 0, size)
	b = append(b, txBatchVersion)
	b = binary.BigEndian.AppendUint64(b, publication)
	b = binary.BigEndian.AppendUint32(b, uint32(len(encs)))
	for _, e := range encs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b
}

// DecodeTxBatch decodes a gossip payload of at most bytesMax bytes and
// txsMax txs. It checks the encoding only; ValidateTx judges the txs.
func DecodeTxBatch(b []byte, txsMax, bytesMax int) ([]*ledger.Tx, error) {
	if len(b) > bytesMax {
		return nil, fmt.Errorf("decode tx batch: %w: %d bytes exceeds %d", ErrMalformed, len(b), bytesMax)
	}
	if len(b) < txBatchHeaderBytes {
		return nil, fmt.Errorf("decode tx batch: %w: %d bytes is shorter than a header", ErrMalformed, len(b))
	}
	if b[0] != txBatchVersion {
		return nil, fmt.Errorf("decode tx batch: %w: version %d, want %d", ErrMalformed, b[0], txBatchVersion)
	}
	count := binary.BigEndian.Uint32(b[1+8:])
	rest := b[txBatchHeaderBytes:]
	switch {
	case count == 0:
		return nil, fmt.Errorf("decode tx batch: %w: empty batch", ErrMalformed)
	case uint64(count) > uint64(txsMax):
		return nil, fmt.Errorf("decode tx batch: %w: %d txs exceeds %d", ErrMalformed, count, txsMax)
	case uint64(count) > uint64(len(rest)/txLengthBytes):
		return nil, fmt.Errorf("decode tx batch: %w: %d txs cannot fit in %d bytes", ErrMalformed, count, len(rest))
	}
	txs := make([]*ledger.Tx, 0, count)
	seen := make(map[string]struct{}, count)
	for i := range int(count) {
		if len(rest) < txLengthBytes {
			return nil, fmt.Errorf("decode tx batch: %w: tx %d: truncated length", ErrMalformed, i)
		}
		n := int(binary.BigEndian.Uint16(rest))
		rest = rest[txLengthBytes:]
		if n > ledger.TxBytesMax || n > len(rest) {
			return nil, fmt.Errorf("decode tx batch: %w: tx %d: length %d (max %d, %d left)", ErrMalformed, i, n, ledger.TxBytesMax, len(rest))
		}
		raw := rest[:n]
		rest = rest[n:]
		if _, dup := seen[string(raw)]; dup {
			return nil, fmt.Errorf("decode tx batch: %w: tx %d repeats an earlier tx", ErrMalformed, i)
		}
		seen[string(raw)] = struct{}{}
		tx, err := ledger.DecodeTx(raw)
		if err != nil {
			return nil, fmt.Errorf("decode tx batch: %w: tx %d: %w", ErrMalformed, i, err)
		}
		txs = append(txs, tx)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("decode tx batch: %w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return txs, nil
}

// splitTxBatches groups encoded txs into payloads within txsMax and
// bytesMax. Every tx fits in a batch of its own: TxBatchBytesMax holds one
// ledger.TxBytesMax tx (Config.validate).
func splitTxBatches(encs [][]byte, txsMax, bytesMax int) [][][]byte {
	var out [][][]byte
	start, size := 0, txBatchHeaderBytes
	for i, e := range encs {
		txSize := txLengthBytes + len(e)
		if i > start && (i-start == txsMax || size+txSize > bytesMax) {
			out = append(out, encs[start:i])
			start, size = i, txBatchHeaderBytes
		}
		size += txSize
	}
	if start < len(encs) {
		out = append(out, encs[start:])
	}
	return out
}
