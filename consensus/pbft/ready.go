package pbft

import (
	"github.com/synod-chain/synod/ledger"
)

// Broadcast as Outbound.To sends a message to every other validator.
const Broadcast = -1

// Outbound is a message to send: to one validator, or to all others.
type Outbound struct {
	To  int // a validator index, or Broadcast
	Msg *Message
}

// CommittedBlock is a block the engine committed with its commit
// certificate.
type CommittedBlock struct {
	Block       *ledger.Block
	Certificate *ledger.CommitCertificate
}

// Ready is one batch of output. The caller handles it in this order (see
// the package doc): Fault first; Persist, durably (fsync), BEFORE sending
// any of Messages; then Messages; then Committed, in order; then Events;
// then Advance.
type Ready struct {
	// Fault, when set, is a failure of this node, not of any peer: the
	// Application could not check or build a block because this node's
	// own state failed (an error wrapping ledger.ErrLocalState). The
	// replica has halted and takes no more input; the caller must stop
	// (fail-stop) without handling the rest of this batch. Nothing of it
	// is lost: its messages go unsent, so their promises need no record,
	// and its committed blocks are certified, fetched again after a
	// restart.
	Fault error
	// Persist must be durable before any message of this batch is sent:
	// it holds the replica's promises (votes, view changes, prepared
	// certificates) that make double-signing impossible after a crash.
	Persist []Record
	// Messages to send, already signed.
	Messages []Outbound
	// Committed blocks, strictly in height order, each extending the one
	// before (and the head the caller already has).
	Committed []CommittedBlock
	// Events: view changes, stable checkpoints, evidence, catch-up requests.
	Events []Event
}

// IsEmpty reports whether the batch has nothing to do.
func (rd *Ready) IsEmpty() bool {
	return rd.Fault == nil && len(rd.Persist) == 0 && len(rd.Messages) == 0 && len(rd.Committed) == 0 && len(rd.Events) == 0
}

// Event is something the node may act on or log. The concrete types are
// EventViewChanged, EventCheckpointStable, EventEvidence and EventCatchUp.
type Event interface{ isEvent() }

// EventViewChanged: the replica entered View (Active false: it sent
// VIEW-CHANGE and waits for NEW-VIEW; true: it installed NEW-VIEW).
type EventViewChanged struct {
	View   uint64
	Active bool
}

// EventCheckpointStable: a checkpoint became stable; the low watermark is
// now Height.
type EventCheckpointStable struct{ Height uint64 }

// EventEvidence reports misbehaviour with verifiable proof.
type EventEvidence struct{ Evidence *Evidence }

// EventCatchUp asks the node to fetch the committed blocks FromHeight to
// ToHeight with their commit certificates, from any of Peers (validators
// that signed a checkpoint at ToHeight or above), and hand them over with
// DeliverCommitted.
type EventCatchUp struct {
	FromHeight, ToHeight uint64
	Peers                []uint16
}

func (EventViewChanged) isEvent()      {}
func (EventCheckpointStable) isEvent() {}
func (EventEvidence) isEvent()         {}
func (EventCatchUp) isEvent()          {}
