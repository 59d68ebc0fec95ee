package pbft

import (
	"encoding/binary"
	"fmt"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Kind names a protocol message (Castro & Liskov 1999 §4.2-4.4).
type Kind uint8

// Message kinds. The values are part of the wire encoding.
const (
	KindPrePrepare Kind = 1
	KindPrepare    Kind = 2
	KindCommit     Kind = 3
	KindCheckpoint Kind = 4
	KindViewChange Kind = 5
	KindNewView    Kind = 6
)

func (k Kind) String() string {
	switch k {
	case KindPrePrepare:
		return "PRE-PREPARE"
	case KindPrepare:
		return "PREPARE"
	case KindCommit:
		return "COMMIT"
	case KindCheckpoint:
		return "CHECKPOINT"
	case KindViewChange:
		return "VIEW-CHANGE"
	case KindNewView:
		return "NEW-VIEW"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Message is one signed protocol message. Which fields are meaningful
// depends on Kind:
//
//	PRE-PREPARE  View, Height, Digest, Block (the block travels with the
//	             message but the signature covers only View, Height, Digest,
//	             so a digest-only copy inside NEW-VIEW or a prepared
//	             certificate carries the same signature)
//	PREPARE      View, Height, Digest
//	COMMIT       View, Height, Digest (signed over ledger.CommitVoteBytes)
//	CHECKPOINT   Height, Digest (block hash), StateRoot
//	VIEW-CHANGE  View (the new view), ViewChange
//	NEW-VIEW     View, NewView
//
// A Message is immutable once signed: the engine never modifies a message
// it received or sent, so one value may be handed to many replicas.
type Message struct {
	Kind       Kind
	From       uint16
	View       uint64
	Height     uint64
	Digest     crypto.Hash
	StateRoot  crypto.Hash
	Block      *ledger.Block
	ViewChange *ViewChange
	NewView    *NewView
	Signature  crypto.Signature
}

// Vote is one validator's signature inside a certificate.
type Vote struct {
	From      uint16
	Signature crypto.Signature
}

// CheckpointProof is a stable checkpoint: a quorum of CHECKPOINT signatures
// over (Height, Digest, StateRoot) (§4.3). The chain's genesis block is the
// stable checkpoint every replica starts from; its proof has no votes.
type CheckpointProof struct {
	Height    uint64
	Digest    crypto.Hash
	StateRoot crypto.Hash
	Votes     []Vote
}

// PreparedCertificate proves that Block (identified by Header) was prepared
// at Header.Height in View: the primary's PRE-PREPARE signature and
// quorum-1 PREPARE signatures of distinct backups (§4.2). The header, not
// the digest alone, is carried so the new primary can follow the hash chain
// (ParentHash) when it selects what to re-propose (§4.4, see selection.go).
type PreparedCertificate struct {
	View       uint64
	Header     ledger.Header
	PrePrepare crypto.Signature
	Prepares   []Vote
}

// Height is the certified height.
func (c *PreparedCertificate) Height() uint64 { return c.Header.Height }

// ViewChange is the body of VIEW-CHANGE(v+1): the sender's stable
// checkpoint and a prepared certificate for each height above it that it
// holds one for, in ascending height order (§4.4).
type ViewChange struct {
	Checkpoint CheckpointProof
	Prepared   []PreparedCertificate
}

// NewView is the body of NEW-VIEW(v): the quorum of VIEW-CHANGE messages it
// is computed from and the primary's digest-only PRE-PREPAREs for view v
// re-proposing the selected blocks in height order (§4.4). Every replica
// recomputes the selection from ViewChanges and rejects a NEW-VIEW whose
// PrePrepares differ.
type NewView struct {
	ViewChanges []*Message
	PrePrepares []*Message
}

// Signing tags start the signed bytes of every message but COMMIT, whose
// bytes are ledger.CommitVoteBytes so COMMITs form commit certificates.
const (
	tagPrePrepare = "pbft/pre-prepare"
	tagPrepare    = "pbft/prepare"
	tagCheckpoint = "pbft/checkpoint"
	tagViewChange = "pbft/view-change"
	tagNewView    = "pbft/new-view"
)

// SigningBytes returns what the sender signs for m.
func (m *Message) SigningBytes() []byte {
	switch m.Kind {
	case KindPrePrepare:
		return voteBytes(tagPrePrepare, m.View, m.Height, m.Digest)
	case KindPrepare:
		return voteBytes(tagPrepare, m.View, m.Height, m.Digest)
	case KindCommit:
		return ledger.CommitVoteBytes(m.Height, m.View, m.Digest)
	case KindCheckpoint:
		b := voteBytes(tagCheckpoint, 0, m.Height, m.Digest)
		return append(b, m.StateRoot[:]...)
	case KindViewChange:
		e := encoder{buf: append([]byte(tagViewChange), 0)}
		e.u64(m.View)
		e.viewChange(m.ViewChange)
		return e.buf
	case KindNewView:
		e := encoder{buf: append([]byte(tagNewView), 0)}
		e.u64(m.View)
		e.newView(m.NewView)
		return e.buf
	}
	panic(fmt.Sprintf("pbft: SigningBytes of unknown kind %d", m.Kind))
}

func voteBytes(tag string, view, height uint64, digest crypto.Hash) []byte {
	b := make([]byte, 0, len(tag)+1+16+crypto.HashBytes+crypto.HashBytes)
	b = append(b, tag...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, view)
	b = binary.BigEndian.AppendUint64(b, height)
	return append(b, digest[:]...)
}

// prePrepareOf rebuilds the digest-only PRE-PREPARE a certificate carries
// the signature of, with block attached (nil allowed).
func (c *PreparedCertificate) prePrepareOf(primary uint16, block *ledger.Block) *Message {
	return &Message{Kind: KindPrePrepare, From: primary, View: c.View, Height: c.Header.Height,
		Digest: c.Header.Hash(), Block: block, Signature: c.PrePrepare}
}

// withoutBlock returns a digest-only copy of a PRE-PREPARE.
func (m *Message) withoutBlock() *Message {
	c := *m
	c.Block = nil
	return &c
}

func (m *Message) String() string {
	return fmt.Sprintf("%s(v=%d h=%d d=%s from=%d)", m.Kind, m.View, m.Height, m.Digest.Short(), m.From)
}
