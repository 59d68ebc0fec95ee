package pbft

import (
	"fmt"
	"slices"

	"github.com/synod-chain/synod/ledger"
)

// RecordKind names a persisted record.
type RecordKind uint8

// Record kinds. The values are part of the encoding.
const (
	// RecordView: the replica entered View; Active false means it sent
	// VIEW-CHANGE, true that it installed NEW-VIEW.
	RecordView RecordKind = 1
	// RecordSent: a PRE-PREPARE, PREPARE or COMMIT this replica signed
	// (digest-only): the promise never to sign another digest there.
	RecordSent RecordKind = 2
	// RecordPrepared: a prepared certificate and its block, reported in
	// every later VIEW-CHANGE until a higher view's replaces it.
	RecordPrepared RecordKind = 3
	// RecordCheckpoint: a stable checkpoint proof.
	RecordCheckpoint RecordKind = 4
)

// Record is one entry of the replica's write-ahead log. The node appends
// Ready.Persist to durable storage and fsyncs before sending the batch's
// messages, and hands the records back in Config.Records on restart.
type Record struct {
	Kind       RecordKind
	View       uint64
	Active     bool
	Sent       *Message
	Prepared   *PreparedCertificate
	Block      *ledger.Block
	Checkpoint *CheckpointProof
}

// Height is the height a record is about (0 for view records).
func (rec *Record) Height() uint64 {
	switch rec.Kind {
	case RecordSent:
		return rec.Sent.Height
	case RecordPrepared:
		return rec.Prepared.Height()
	case RecordCheckpoint:
		return rec.Checkpoint.Height
	}
	return 0
}

// EncodeRecord returns a record's canonical encoding.
func EncodeRecord(rec *Record) []byte {
	e := encoder{buf: make([]byte, 0, 128)}
	e.u8(uint8(rec.Kind))
	switch rec.Kind {
	case RecordView:
		e.u64(rec.View)
		e.u8(boolByte(rec.Active))
	case RecordSent:
		e.sized(Encode(rec.Sent))
	case RecordPrepared:
		e.certificate(rec.Prepared)
		e.sized(rec.Block.Encode())
	case RecordCheckpoint:
		e.checkpoint(rec.Checkpoint)
	default:
		panic(fmt.Sprintf("pbft: encode record of kind %d", rec.Kind))
	}
	return e.buf
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// DecodeRecord decodes a record written by EncodeRecord; it never panics.
func DecodeRecord(b []byte) (*Record, error) {
	if len(b) > MessageBytesMax {
		return nil, fmt.Errorf("decode record: %w: %d bytes", ErrMalformed, len(b))
	}
	d := decoder{buf: b}
	rec := &Record{Kind: RecordKind(d.u8("record kind"))}
	switch rec.Kind {
	case RecordView:
		rec.View = d.u64("view")
		switch active := d.u8("active"); active {
		case 0, 1:
			rec.Active = active == 1
		default:
			d.setErr("view record active flag %d, not 0 or 1", active)
		}
	case RecordSent:
		m, err := Decode(d.sized(MessageBytesMax, "sent message"))
		if err != nil && d.fail == nil {
			d.fail = err
		}
		rec.Sent = m
	case RecordPrepared:
		c := d.certificate()
		rec.Prepared = &c
		if raw := d.sized(ledger.BlockBytesMax, "block"); d.fail == nil {
			blk, err := ledger.DecodeBlock(raw)
			if err != nil {
				d.fail = fmt.Errorf("%w: %w", ErrMalformed, err)
			}
			rec.Block = blk
		}
	case RecordCheckpoint:
		cp := d.checkpoint()
		rec.Checkpoint = &cp
	default:
		d.setErr("unknown record kind %d", rec.Kind)
	}
	if d.fail == nil && d.off != len(b) {
		d.setErr("%d trailing bytes", len(b)-d.off)
	}
	if d.fail != nil {
		return nil, fmt.Errorf("decode record: %w", d.fail)
	}
	return rec, nil
}

// CompactRecords returns the records a restart needs, given the records
// so far: the last view record, the highest checkpoint, and the promises
// and certificates above it (for sent votes, of the last view only, since
// a replica never votes in an earlier view again). The node may replace
// its log with the result after a stable checkpoint.
func CompactRecords(recs []Record) []Record {
	var view, cp *Record
	for i := range recs {
		switch rec := &recs[i]; rec.Kind {
		case RecordView:
			if view == nil || rec.View >= view.View {
				view = rec
			}
		case RecordCheckpoint:
			if cp == nil || rec.Checkpoint.Height > cp.Checkpoint.Height {
				cp = rec
			}
		}
	}
	var low, v uint64
	var out []Record
	if cp != nil {
		low = cp.Checkpoint.Height
		out = append(out, *cp)
	}
	if view != nil {
		v = view.View
		out = append(out, *view)
	}
	best := make(map[uint64]int) // height -> index in out of the highest-view certificate
	for _, rec := range recs {
		switch {
		case rec.Kind == RecordSent && rec.Sent.Height > low && rec.Sent.View >= v:
			out = append(out, rec)
		case rec.Kind == RecordPrepared && rec.Prepared.Height() > low:
			h := rec.Prepared.Height()
			if i, ok := best[h]; ok {
				if out[i].Prepared.View < rec.Prepared.View {
					out[i] = rec
				}
				continue
			}
			best[h] = len(out)
			out = append(out, rec)
		}
	}
	return out
}

// restore rebuilds the replica's promises from its records: its view, the
// votes it signed in that view, its prepared certificates and its stable
// checkpoint. A replica in the middle of a view change repeats its
// VIEW-CHANGE, rebuilt from the same certificates.
func (r *Replica) restore(recs []Record) error {
	var certs []Record
	for _, rec := range recs {
		switch rec.Kind {
		case RecordView:
			if rec.View > r.view || (rec.View == r.view && rec.Active) {
				r.view, r.changing = rec.View, !rec.Active
			}
		case RecordSent:
			r.sent[sentKey{rec.Sent.View, rec.Sent.Height, rec.Sent.Kind}] = rec.Sent.Digest
		case RecordPrepared:
			// A certificate dropped here would be missing from every later
			// VIEW-CHANGE: a record that does not hold its block is damage.
			if rec.Prepared == nil {
				return fmt.Errorf("restore: %w: prepared record without a certificate", ErrMalformed)
			}
			if rec.Block == nil || rec.Block.Hash() != rec.Prepared.Header.Hash() {
				return fmt.Errorf("restore: %w: prepared record at height %d does not hold the block of its certificate", ErrMalformed, rec.Height())
			}
			certs = append(certs, rec)
		case RecordCheckpoint:
			if err := r.verifyCheckpoint(rec.Checkpoint); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			if rec.Checkpoint.Height > r.stable.Height {
				r.stable = *rec.Checkpoint
			}
		default:
			return fmt.Errorf("restore: record of kind %d", rec.Kind)
		}
	}
	for k := range r.sent {
		if k.view < r.view || k.height <= r.stable.Height {
			delete(r.sent, k)
		}
	}
	slices.SortStableFunc(certs, func(a, b Record) int { return cmpU64(a.Prepared.View, b.Prepared.View) })
	for _, rec := range certs {
		if h := rec.Prepared.Height(); r.inWindow(h) {
			s := r.slot(h)
			s.cert, s.certBlock = rec.Prepared, rec.Block
			r.keepBlock(rec.Block)
		}
	}
	if r.changing {
		r.ownVC = r.sign(&Message{Kind: KindViewChange, View: r.view, ViewChange: r.viewChangeBody()})
		r.viewChanges[r.id] = r.ownVC
		r.broadcast(r.ownVC)
	}
	if r.stable.Height > r.committed {
		r.requestCatchUp(r.stable.Height, nil)
	}
	return nil
}
