package ledger

import (
	"errors"
	"fmt"

	"github.com/synod-chain/synod/crypto"
)

// Block limits. Genesis consensus parameters may set lower ones; these are
// the hard ceilings every decoder enforces before it allocates.
const (
	BlockVersion  = 1
	BlockTxsMax   = 65_536
	BlockBytesMax = 16 << 20
	// HeaderBytesMax: 1+1+64+8+8+32+32+32+20+8.
	HeaderBytesMax = 206
)

// ErrBlockTooLarge is returned for a block over BlockBytesMax.
var ErrBlockTooLarge = errors.New("block: too large")

// Header is what a block's hash commits to. StateRoot is the root of the
// account state after applying this block's transactions, so a commit
// certificate over the header also certifies the state.
type Header struct {
	ChainID    string
	Height     uint64
	View       uint64
	ParentHash crypto.Hash
	TxRoot     crypto.Hash
	StateRoot  crypto.Hash
	Proposer   crypto.Address
	// Timestamp is the proposer's clock in Unix milliseconds; it never
	// decreases along the chain.
	Timestamp int64
}

// Block is a header and the transactions it orders.
type Block struct {
	Header Header
	Txs    []*Tx
}

// Hash is the block hash: SHA-256 of the header's encoding.
func (h Header) Hash() crypto.Hash {
	e := encoder{buf: make([]byte, 0, HeaderBytesMax)}
	h.encode(&e)
	return crypto.Sum256(e.buf)
}

// Hash is the block's header hash.
func (b *Block) Hash() crypto.Hash { return b.Header.Hash() }

// Height is the block's height.
func (b *Block) Height() uint64 { return b.Header.Height }

func (h *Header) encode(e *encoder) {
	e.u8(BlockVersion)
	e.bytes8([]byte(h.ChainID))
	e.u64(h.Height)
	e.u64(h.View)
	e.raw(h.ParentHash[:])
	e.raw(h.TxRoot[:])
	e.raw(h.StateRoot[:])
	e.raw(h.Proposer[:])
	e.u64(uint64(h.Timestamp))
}

func decodeHeader(d *decoder) Header {
	var h Header
	if v := d.u8("block version"); d.fail == nil && v != BlockVersion {
		d.setErr("block version %d, want %d", v, BlockVersion)
	}
	h.ChainID = d.string8(crypto.ChainIDBytesMax, "header chain id", "")
	h.Height = d.u64("header height")
	h.View = d.u64("header view")
	h.ParentHash = d.hash("header parent hash")
	h.TxRoot = d.hash("header tx root")
	h.StateRoot = d.hash("header state root")
	d.fixed(h.Proposer[:], "header proposer")
	h.Timestamp = int64(d.u64("header timestamp"))
	return h
}

// EncodeHeader returns the canonical encoding of h.
func EncodeHeader(h *Header) []byte {
	e := encoder{buf: make([]byte, 0, HeaderBytesMax)}
	h.encode(&e)
	return e.buf
}

// DecodeHeader decodes one canonical header.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) > HeaderBytesMax {
		return Header{}, fmt.Errorf("decode header: %w: %d bytes", ErrMalformed, len(b))
	}
	d := decoder{buf: b}
	h := decodeHeader(&d)
	return h, d.finish("header")
}

// Encode returns the block's canonical encoding: header, tx count, then
// each tx with a two-byte length.
func (b *Block) Encode() []byte {
	n := HeaderBytesMax + 4
	for _, tx := range b.Txs {
		n += 2 + tx.EncodedLen()
	}
	e := encoder{buf: make([]byte, 0, n)}
	b.Header.encode(&e)
	e.u32(uint32(len(b.Txs)))
	for _, tx := range b.Txs {
		lenAt := len(e.buf)
		e.u16(0)
		tx.encode(&e)
		n := len(e.buf) - lenAt - 2
		e.buf[lenAt], e.buf[lenAt+1] = byte(n>>8), byte(n)
	}
	return e.buf
}

// DecodeBlock decodes one canonical block of at most BlockBytesMax bytes.
// It checks the encoding only; ValidateBlock and execution check contents.
func DecodeBlock(b []byte) (*Block, error) {
	if len(b) > BlockBytesMax {
		return nil, fmt.Errorf("decode block: %w: %d bytes exceeds %d", ErrBlockTooLarge, len(b), BlockBytesMax)
	}
	d := decoder{buf: b}
	blk := &Block{Header: decodeHeader(&d)}
	n := d.count(BlockTxsMax, "block txs")
	if d.fail == nil && n > 0 {
		// Every tx takes at least 2 bytes of length prefix, so a count the
		// remaining input cannot hold is refused before allocating.
		if rest := len(d.buf) - d.off; n > rest/2 {
			d.setErr("block txs: count %d cannot fit in %d bytes", n, rest)
		} else {
			blk.Txs = make([]*Tx, 0, n)
		}
	}
	for i := 0; i < n && d.fail == nil; i++ {
		size := int(d.u16("tx length"))
		if size > TxBytesMax {
			d.setErr("tx %d: %d bytes exceeds %d", i, size, TxBytesMax)
			break
		}
		raw := d.take(size, "tx")
		if d.fail != nil {
			break
		}
		sub := decoder{buf: raw}
		prevChain := ""
		if len(blk.Txs) > 0 {
			prevChain = blk.Txs[len(blk.Txs)-1].ChainID
		}
		tx := decodeTxChain(&sub, prevChain)
		if err := sub.finish(fmt.Sprintf("tx %d", i)); err != nil {
			d.fail = err
			break
		}
		blk.Txs = append(blk.Txs, tx)
	}
	if err := d.finish("block"); err != nil {
		return nil, err
	}
	return blk, nil
}

// TxHashes returns the hashes of the block's txs in order.
func (b *Block) TxHashes() []crypto.Hash {
	hs := make([]crypto.Hash, len(b.Txs))
	for i, tx := range b.Txs {
		hs[i] = tx.Hash()
	}
	return hs
}

// MerkleRoot is the root of a binary Merkle tree over leaves, with distinct
// prefixes for leaves (0x00) and inner nodes (0x01) so an inner node can
// never pass for a leaf, and an odd node promoted unchanged (RFC 6962's
// shape). The root of no leaves is SHA-256 of the empty string.
func MerkleRoot(leaves []crypto.Hash) crypto.Hash {
	if len(leaves) == 0 {
		return crypto.Sum256(nil)
	}
	level := make([]crypto.Hash, len(leaves))
	var buf [1 + 2*crypto.HashBytes]byte
	for i, l := range leaves {
		buf[0] = 0
		copy(buf[1:], l[:])
		level[i] = crypto.Sum256(buf[:1+crypto.HashBytes])
	}
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			buf[0] = 1
			copy(buf[1:], level[i][:])
			copy(buf[1+crypto.HashBytes:], level[i+1][:])
			next = append(next, crypto.Sum256(buf[:]))
		}
		level = next
	}
	return level[0]
}
