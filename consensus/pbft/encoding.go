package pbft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Encoding limits. A message is at most MessageBytesMax bytes: one block of
// the largest size any chain allows (ledger.BlockBytesMax) plus framing, or
// a NEW-VIEW of ViewChangesMax view changes of at most ViewChangeBytesMax
// bytes each. Counts inside are checked against what the remaining input
// can hold before anything is allocated. CheckParams refuses a chain whose
// view-change messages could outgrow these limits.
const (
	MessageVersion = 1
	// CertificatesPerViewChangeMax bounds the prepared certificates in one
	// VIEW-CHANGE: one per height of the largest window genesis allows.
	CertificatesPerViewChangeMax = 100_000
	// ViewChangeBytesMax bounds one encoded VIEW-CHANGE.
	ViewChangeBytesMax = 8 << 20
	// MessageBytesMax bounds any encoded message.
	MessageBytesMax    = ledger.BlockBytesMax + 1<<20
	messageHeaderBytes = 1 + 1 + 2 + 8 + 8 + crypto.HashBytes
	voteBytesLen       = 2 + crypto.SignatureBytes
)

// viewChangeBytes is the largest VIEW-CHANGE checkViewChangeBody accepts
// for n validators and a window of w heights: a checkpoint proof signed by
// all n, and at each window height a certificate of the largest header
// with the PREPAREs of all n-1 backups. A correct replica sends a quorum of
// signatures in each, but a faulty one may pad its own with every PREPARE
// it saw, and a correct new primary still carries it inside NEW-VIEW.
func viewChangeBytes(n int, w uint64) uint64 {
	checkpoint := uint64(8 + 2*crypto.HashBytes + 2 + n*voteBytesLen)
	cert := uint64(8 + 4 + ledger.HeaderBytesMax + crypto.SignatureBytes + 2 + (n-1)*voteBytesLen)
	return messageHeaderBytes + checkpoint + 4 + w*cert + crypto.SignatureBytes
}

// newViewBytes is the largest NEW-VIEW a correct primary of n validators
// sends: a quorum of the largest VIEW-CHANGEs and a digest-only
// PRE-PREPARE at each of the w window heights.
func newViewBytes(n int, w uint64) uint64 {
	q := uint64((n+(n-1)/3)/2 + 1) // ledger.ValidatorSet.Quorum
	prePrepare := uint64(4 + messageHeaderBytes + 1 + crypto.SignatureBytes)
	return messageHeaderBytes + 2 + q*(4+viewChangeBytes(n, w)) + 4 + w*prePrepare + crypto.SignatureBytes
}

// CheckParams reports whether a chain of n validators with parameters p
// can always complete a view change: its largest VIEW-CHANGE and NEW-VIEW
// must fit the decoder's limits. Otherwise, once the window holds enough
// prepared heights, every replica refuses every NEW-VIEW as malformed, the
// certificates stay until a checkpoint that can no longer come, and no view
// change ever completes. A large validator set must pay with a small window.
func CheckParams(n int, p ledger.ConsensusParams) error {
	w := p.WindowHeights
	if vc := viewChangeBytes(n, w); vc > ViewChangeBytesMax {
		return fmt.Errorf("%w: with %d validators and window_heights %d a VIEW-CHANGE can reach %d bytes, above %d: lower window_heights",
			ErrConfig, n, w, vc, ViewChangeBytesMax)
	}
	if nv := newViewBytes(n, w); nv > MessageBytesMax {
		return fmt.Errorf("%w: with %d validators and window_heights %d a NEW-VIEW can reach %d bytes, above %d: lower window_heights",
			ErrConfig, n, w, nv, MessageBytesMax)
	}
	return nil
}

// ErrMalformed wraps every decoding failure.
var ErrMalformed = errors.New("pbft: malformed message")

type encoder struct{ buf []byte }

func (e *encoder) u8(v uint8)             { e.buf = append(e.buf, v) }
func (e *encoder) u16(v uint16)           { e.buf = binary.BigEndian.AppendUint16(e.buf, v) }
func (e *encoder) u32(v uint32)           { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64)           { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *encoder) hash(h crypto.Hash)     { e.buf = append(e.buf, h[:]...) }
func (e *encoder) sig(s crypto.Signature) { e.buf = append(e.buf, s[:]...) }
func (e *encoder) sized(b []byte)         { e.u32(uint32(len(b))); e.buf = append(e.buf, b...) }

func (e *encoder) votes(vs []Vote) {
	e.u16(uint16(len(vs)))
	for _, v := range vs {
		e.u16(v.From)
		e.sig(v.Signature)
	}
}

func (e *encoder) checkpoint(c *CheckpointProof) {
	e.u64(c.Height)
	e.hash(c.Digest)
	e.hash(c.StateRoot)
	e.votes(c.Votes)
}

func (e *encoder) certificate(c *PreparedCertificate) {
	e.u64(c.View)
	e.sized(ledger.EncodeHeader(&c.Header))
	e.sig(c.PrePrepare)
	e.votes(c.Prepares)
}

func (e *encoder) viewChange(vc *ViewChange) {
	e.checkpoint(&vc.Checkpoint)
	e.u32(uint32(len(vc.Prepared)))
	for i := range vc.Prepared {
		e.certificate(&vc.Prepared[i])
	}
}

func (e *encoder) newView(nv *NewView) {
	e.u16(uint16(len(nv.ViewChanges)))
	for _, m := range nv.ViewChanges {
		e.sized(Encode(m))
	}
	e.u32(uint32(len(nv.PrePrepares)))
	for _, m := range nv.PrePrepares {
		e.sized(Encode(m))
	}
}

// Encode returns the canonical encoding of m: version, kind, sender, view,
// height, digest, the kind's body, signature.
func Encode(m *Message) []byte {
	e := encoder{buf: make([]byte, 0, messageHeaderBytes+crypto.SignatureBytes+64)}
	e.u8(MessageVersion)
	e.u8(uint8(m.Kind))
	e.u16(m.From)
	e.u64(m.View)
	e.u64(m.Height)
	e.hash(m.Digest)
	switch m.Kind {
	case KindPrePrepare:
		if m.Block == nil {
			e.u8(0)
		} else {
			e.u8(1)
			e.sized(m.Block.Encode())
		}
	case KindCheckpoint:
		e.hash(m.StateRoot)
	case KindViewChange:
		e.viewChange(m.ViewChange)
	case KindNewView:
		e.newView(m.NewView)
	}
	e.sig(m.Signature)
	return e.buf
}

type decoder struct {
	buf  []byte
	off  int
	fail error
}

func (d *decoder) setErr(format string, args ...any) {
	if d.fail == nil {
		d.fail = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) take(n int, what string) []byte {
	if d.fail != nil {
		return nil
	}
	if n < 0 || n > len(d.buf)-d.off {
		d.setErr("%s: need %d bytes, have %d", what, n, len(d.buf)-d.off)
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

func (d *decoder) u8(what string) uint8 {
	if b := d.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if b := d.take(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if b := d.take(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if b := d.take(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) hash(what string) (h crypto.Hash) {
	copy(h[:], d.take(crypto.HashBytes, what))
	return h
}

func (d *decoder) sig(what string) (s crypto.Signature) {
	copy(s[:], d.take(crypto.SignatureBytes, what))
	return s
}

// count reads a count of items of at least itemBytes each, refusing one
// above max or one the remaining input cannot hold.
func (d *decoder) count(n, max, itemBytes int, what string) int {
	if d.fail != nil {
		return 0
	}
	if n > max || n*itemBytes > len(d.buf)-d.off {
		d.setErr("%s: count %d (max %d) does not fit in %d bytes", what, n, max, len(d.buf)-d.off)
		return 0
	}
	return n
}

func (d *decoder) sized(max int, what string) []byte {
	n := int(d.u32(what + " length"))
	if d.fail == nil && n > max {
		d.setErr("%s: %d bytes exceeds %d", what, n, max)
		return nil
	}
	return d.take(n, what)
}

func (d *decoder) votes(what string) []Vote {
	n := d.count(int(d.u16(what)), ledger.ValidatorsMax, voteBytesLen, what)
	if n == 0 {
		return nil
	}
	vs := make([]Vote, n)
	for i := range vs {
		vs[i] = Vote{From: d.u16(what), Signature: d.sig(what)}
	}
	return vs
}

func (d *decoder) checkpoint() CheckpointProof {
	return CheckpointProof{Height: d.u64("checkpoint height"), Digest: d.hash("checkpoint digest"),
		StateRoot: d.hash("checkpoint state root"), Votes: d.votes("checkpoint votes")}
}

func (d *decoder) certificate() PreparedCertificate {
	c := PreparedCertificate{View: d.u64("certificate view")}
	raw := d.sized(ledger.HeaderBytesMax, "certificate header")
	if d.fail == nil {
		h, err := ledger.DecodeHeader(raw)
		if err != nil {
			d.setErr("certificate header: %v", err)
		}
		c.Header = h
	}
	c.PrePrepare = d.sig("certificate pre-prepare signature")
	c.Prepares = d.votes("certificate prepares")
	return c
}

func (d *decoder) viewChange() *ViewChange {
	vc := &ViewChange{Checkpoint: d.checkpoint()}
	n := d.count(int(d.u32("certificates")), CertificatesPerViewChangeMax, 8+crypto.SignatureBytes+2, "certificates")
	if n > 0 {
		vc.Prepared = make([]PreparedCertificate, 0, n)
	}
	for i := 0; i < n && d.fail == nil; i++ {
		vc.Prepared = append(vc.Prepared, d.certificate())
	}
	return vc
}

func (d *decoder) newView() *NewView {
	nv := &NewView{}
	n := d.count(int(d.u16("view changes")), ledger.ValidatorsMax, 4, "view changes")
	for i := 0; i < n && d.fail == nil; i++ {
		m, err := Decode(d.sized(ViewChangeBytesMax, "view change"))
		if err == nil && m.Kind != KindViewChange {
			err = fmt.Errorf("%w: %s inside NEW-VIEW", ErrMalformed, m.Kind)
		}
		if err != nil && d.fail == nil {
			d.fail = err
		}
		nv.ViewChanges = append(nv.ViewChanges, m)
	}
	n = d.count(int(d.u32("pre-prepares")), CertificatesPerViewChangeMax, 4, "pre-prepares")
	for i := 0; i < n && d.fail == nil; i++ {
		m, err := Decode(d.sized(messageHeaderBytes+1+crypto.SignatureBytes, "pre-prepare"))
		if err == nil && (m.Kind != KindPrePrepare || m.Block != nil) {
			err = fmt.Errorf("%w: NEW-VIEW carries %s, want digest-only PRE-PREPARE", ErrMalformed, m.Kind)
		}
		if err != nil && d.fail == nil {
			d.fail = err
		}
		nv.PrePrepares = append(nv.PrePrepares, m)
	}
	return nv
}

// Decode decodes one message of at most MessageBytesMax bytes. It checks
// the encoding only; the replica checks the signature and the contents. It
// never panics, whatever the input.
func Decode(b []byte) (*Message, error) {
	if len(b) > MessageBytesMax {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MessageBytesMax)
	}
	d := decoder{buf: b}
	if v := d.u8("version"); d.fail == nil && v != MessageVersion {
		d.setErr("version %d, want %d", v, MessageVersion)
	}
	m := &Message{Kind: Kind(d.u8("kind")), From: d.u16("from"), View: d.u64("view"),
		Height: d.u64("height"), Digest: d.hash("digest")}
	switch m.Kind {
	case KindPrePrepare:
		d.prePrepareBody(m)
	case KindPrepare, KindCommit:
	case KindCheckpoint:
		m.StateRoot = d.hash("state root")
	case KindViewChange:
		m.ViewChange = d.viewChange()
	case KindNewView:
		m.NewView = d.newView()
	default:
		d.setErr("unknown kind %d", m.Kind)
	}
	m.Signature = d.sig("signature")
	if d.fail == nil && d.off != len(d.buf) {
		d.setErr("%d trailing bytes", len(d.buf)-d.off)
	}
	if d.fail != nil {
		return nil, fmt.Errorf("decode message: %w", d.fail)
	}
	return m, nil
}

func (d *decoder) prePrepareBody(m *Message) {
	switch d.u8("has block") {
	case 0:
	case 1:
		raw := d.sized(ledger.BlockBytesMax, "block")
		if d.fail != nil {
			return
		}
		blk, err := ledger.DecodeBlock(raw)
		if err != nil {
			d.fail = fmt.Errorf("%w: %w", ErrMalformed, err)
			return
		}
		m.Block = blk
	default:
		d.setErr("has-block flag not 0 or 1")
	}
}
