package node

import (
	"bytes"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// voteSigsBatchMin is the fewest votes worth one signature batch: below
// it crypto.BatchVerifier checks them one by one anyway, as the replica
// would.
const voteSigsBatchMin = 3

// voteSigs verifies the signatures of the votes the consensus loop takes
// from its inbox together, in one batch, before the replica steps them.
// The replica checks each message's signature through its Verifier
// (certVerifier), which finds the batch's verdict here instead of checking
// the signature alone: one vote checked alone costs about twice its share
// of a batch (crypto's BenchmarkBatchVerify), and every height brings each
// replica 2(n-1) PREPAREs and COMMITs.
//
// Only PREPAREs, COMMITs and CHECKPOINTs are batched: what the replica
// refuses before checking a signature (its own messages, unknown senders,
// PRE-PREPAREs of blocks over the chain's limit) must stay free, and
// VIEW-CHANGEs and NEW-VIEWs are rare. A signature the batch finds invalid
// is not recorded, so the replica checks it again and refuses it as
// before. A hit is exact: the sender, the signature and the signed bytes
// must all match. It is used by the loop's goroutine only.
type voteSigs struct {
	vals    *ledger.ValidatorSet
	chainID string
	self    uint16
	batch   *crypto.BatchVerifier
	// valid holds the batch's valid signatures with the bytes they sign,
	// until the batch's messages are stepped (clear).
	valid map[voteSigKey][]byte
}

type voteSigKey struct {
	from uint16
	sig  crypto.Signature
}

func newVoteSigs(vals *ledger.ValidatorSet, chainID string, self uint16) *voteSigs {
	return &voteSigs{vals: vals, chainID: chainID, self: self,
		batch: crypto.NewBatchVerifier(inboxStepBatchMax), valid: make(map[voteSigKey][]byte, inboxStepBatchMax)}
}

// verify checks the signatures of msgs' votes in one batch and records the
// valid ones.
func (s *voteSigs) verify(msgs []*pbft.Message) {
	votes := make([]*pbft.Message, 0, len(msgs))
	seen := make(map[voteSigKey]bool, len(msgs))
	for _, m := range msgs {
		switch m.Kind {
		case pbft.KindPrepare, pbft.KindCommit, pbft.KindCheckpoint:
		default:
			continue
		}
		key := voteSigKey{m.From, m.Signature}
		if m.From == s.self || !s.vals.Contains(int(m.From)) || seen[key] {
			continue
		}
		seen[key] = true
		votes = append(votes, m)
	}
	if len(votes) < voteSigsBatchMin {
		return // the replica checks these alone
	}
	payloads := make([][]byte, len(votes))
	for i, m := range votes {
		payloads[i] = m.SigningBytes()
		s.batch.Add(s.vals.At(int(m.From)).PublicKey, crypto.DomainConsensus, s.chainID, payloads[i], m.Signature)
	}
	_, valid := s.batch.Verify()
	for i, m := range votes {
		if valid[i] {
			s.valid[voteSigKey{m.From, m.Signature}] = payloads[i]
		}
	}
}

// verified reports whether the batch found sig a valid signature of
// payload by validator from.
func (s *voteSigs) verified(from uint16, payload []byte, sig crypto.Signature) bool {
	p, ok := s.valid[voteSigKey{from, sig}]
	return ok && bytes.Equal(p, payload)
}

// clear forgets the batch once its messages are stepped.
func (s *voteSigs) clear() { clear(s.valid) }
