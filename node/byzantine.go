package node

import (
	"crypto/rand"
	"fmt"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Byzantine modes: a test hook that makes this validator misbehave, for the
// testnet's fault injection and the chaos test. It is set only by the
// [testing] section of config.toml, which generated configs never contain.
const (
	ByzantineNone             = ""
	ByzantineSilent           = "silent"            // sends no consensus message at all
	ByzantineEquivocate       = "equivocate"        // as primary, a different block to every other replica
	ByzantineInvalidProposals = "invalid-proposals" // as primary, blocks with a wrong state root
	ByzantineDoubleVote       = "double-vote"       // every PREPARE and COMMIT also signed for a random digest
)

// ByzantineModes lists the modes accepted in config.
var ByzantineModes = []string{ByzantineSilent, ByzantineEquivocate, ByzantineInvalidProposals, ByzantineDoubleVote}

func validByzantineMode(m string) bool {
	if m == ByzantineNone {
		return true
	}
	for _, v := range ByzantineModes {
		if v == m {
			return true
		}
	}
	return false
}

// byzantine rewrites what the honest engine sends. Like the simulator's
// behaviours, it signs only with this validator's own key.
type byzantine struct {
	mode   string
	self   uint16
	n      int
	signer pbft.Signer
	// rebuild makes another valid block on the same parent (for
	// equivocation); nil disables equivocation.
	rebuild func(b *ledger.Block) (*ledger.Block, error)
	// rebuilt counts alternative blocks, so each one differs.
	rebuilt int64
}

func (z *byzantine) sign(m *pbft.Message) *pbft.Message {
	m.From = z.self
	m.Signature = z.signer.Sign(m.SigningBytes())
	return m
}

func randomDigest() crypto.Hash {
	var h crypto.Hash
	if _, err := rand.Read(h[:]); err != nil {
		panic(fmt.Sprintf("byzantine: %v", err))
	}
	return h
}

// outgoing returns the messages to send instead of out.
func (z *byzantine) outgoing(out []pbft.Outbound) []pbft.Outbound {
	switch z.mode {
	case ByzantineSilent:
		return nil
	case ByzantineDoubleVote:
		res := make([]pbft.Outbound, 0, 2*len(out))
		for _, o := range out {
			res = append(res, o)
			if k := o.Msg.Kind; k == pbft.KindPrepare || k == pbft.KindCommit {
				res = append(res, pbft.Outbound{To: o.To, Msg: z.sign(&pbft.Message{Kind: k, View: o.Msg.View, Height: o.Msg.Height, Digest: randomDigest()})})
			}
		}
		return res
	case ByzantineInvalidProposals:
		res := make([]pbft.Outbound, 0, len(out))
		for _, o := range out {
			if z.isFreshProposal(o) {
				bad := *o.Msg.Block
				bad.Header.StateRoot = randomDigest()
				o = pbft.Outbound{To: o.To, Msg: z.sign(&pbft.Message{Kind: pbft.KindPrePrepare, View: o.Msg.View, Height: o.Msg.Height, Digest: bad.Hash(), Block: &bad})}
			}
			res = append(res, o)
		}
		return res
	case ByzantineEquivocate:
		var res []pbft.Outbound
		for _, o := range out {
			if !z.isFreshProposal(o) || z.rebuild == nil {
				res = append(res, o)
				continue
			}
			// Every other replica gets a block of its own: no two honest
			// replicas prepare the same digest from this primary.
			for id := 0; id < z.n; id++ {
				if id == int(z.self) {
					continue
				}
				z.rebuilt++
				alt, err := z.rebuild(o.Msg.Block)
				if err != nil {
					res = append(res, pbft.Outbound{To: id, Msg: o.Msg})
					continue
				}
				res = append(res, pbft.Outbound{To: id, Msg: z.sign(&pbft.Message{Kind: pbft.KindPrePrepare, View: o.Msg.View, Height: o.Msg.Height, Digest: alt.Hash(), Block: alt})})
			}
		}
		return res
	}
	return out
}

func (z *byzantine) isFreshProposal(o pbft.Outbound) bool {
	m := o.Msg
	return m.Kind == pbft.KindPrePrepare && m.From == z.self && m.Block != nil && m.Block.Header.View == m.View && o.To == pbft.Broadcast
}
