package pbft

import (
	"fmt"
)

// EvidenceKind names a kind of misbehaviour.
type EvidenceKind uint8

// Evidence kinds.
const (
	// EvidenceConflict: two messages signed by one validator for the same
	// (view, height, kind) with different contents (First and Second).
	EvidenceConflict EvidenceKind = 1
	// EvidenceInvalidProposal: a signed PRE-PREPARE (First, with its block)
	// whose block the application or the engine rejects.
	EvidenceInvalidProposal EvidenceKind = 2
	// EvidenceBadNewView: a signed NEW-VIEW (First) whose re-proposals do
	// not match the selection recomputed from its VIEW-CHANGEs.
	EvidenceBadNewView EvidenceKind = 3
	// EvidenceForkedCheckpoint: a quorum certified a checkpoint other than
	// the block committed here; only possible with more than f faulty.
	EvidenceForkedCheckpoint EvidenceKind = 4
)

// Evidence is verifiable proof of misbehaviour by Validator.
type Evidence struct {
	Kind          EvidenceKind
	Validator     uint16
	First, Second *Message
	Reason        string
}

// Verify checks that the evidence proves what it claims, with the signed
// messages it holds: for a conflict, two validly signed messages of the
// same validator, view, height and kind with different contents.
func (e *Evidence) Verify(v Verifier) error {
	if e.First == nil || e.First.From != e.Validator {
		return fmt.Errorf("%w: evidence without a message from %d", ErrInvalid, e.Validator)
	}
	if err := v.Verify(e.First.From, e.First.SigningBytes(), e.First.Signature); err != nil {
		return err
	}
	if e.Kind != EvidenceConflict {
		return nil
	}
	a, b := e.First, e.Second
	if b == nil || b.From != a.From || b.Kind != a.Kind || b.View != a.View || b.Height != a.Height {
		return fmt.Errorf("%w: conflict evidence with unrelated messages", ErrInvalid)
	}
	if a.Digest == b.Digest && a.StateRoot == b.StateRoot {
		return fmt.Errorf("%w: conflict evidence with equal messages", ErrInvalid)
	}
	return v.Verify(b.From, b.SigningBytes(), b.Signature)
}

func (r *Replica) conflict(a, b *Message) {
	r.addEvidence(&Evidence{Kind: EvidenceConflict, Validator: a.From, First: a.withoutBlock(), Second: b.withoutBlock(),
		Reason: fmt.Sprintf("%s and %s", a, b)})
}

// invalidProposal reports a bad proposal from the primary and, if it is
// the current primary's, starts a view change at once instead of waiting
// for the timeout.
func (r *Replica) invalidProposal(m *Message, err error) {
	r.addEvidence(&Evidence{Kind: EvidenceInvalidProposal, Validator: m.From, First: m, Reason: err.Error()})
	if m.View == r.view && !r.changing {
		r.startViewChange(r.view + 1)
	}
}

// addEvidence keeps e unless the same offence is already kept; the oldest
// evidence goes when the store is full.
func (r *Replica) addEvidence(e *Evidence) {
	for _, old := range r.evidence {
		if old.Kind == e.Kind && old.Validator == e.Validator && sameOffence(old.First, e.First) {
			return
		}
	}
	if len(r.evidence) >= r.cfg.EvidenceMax {
		r.evidence = append(r.evidence[:0], r.evidence[1:]...)
	}
	r.evidence = append(r.evidence, e)
	r.event(EventEvidence{Evidence: e})
}

func sameOffence(a, b *Message) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && a.View == b.View && a.Height == b.Height
}
