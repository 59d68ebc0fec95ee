package node

import (
	"bytes"
	"testing"

	"github.com/synod-chain/synod/consensus/om"
	"github.com/synod-chain/synod/crypto"
)

// FuzzOMReceive feeds node 0 of a 4-validator OM cluster, in a running
// checkpoint's run, a stream of envelopes: each fuzzed body is sent raw
// and also signed by the validator its From names, so the state machine,
// the relay bookkeeping and the equivocation evidence see arbitrary
// well-signed messages, not only ones the signature check turns away. No
// input may panic; an envelope the verifier opens must hold a message
// that encodes back to its body (one encoding per message), and every
// equivocation kept as evidence must be two envelopes the named
// validator signed for one path with different values.
func FuzzOMReceive(f *testing.F) {
	claim := om.Message{Instance: 4, From: 1, To: 0, Path: []om.NodeID{1}, Value: encodeOMClaim(4, omTestRoot(4))}
	relay := om.Message{Instance: 4, From: 2, To: 0, Path: []om.NodeID{1, 2}, Value: encodeOMClaim(4, omTestRoot(5))}
	f.Add(claim.AppendEncode(nil), relay.AppendEncode(nil), uint8(0))
	lie := claim
	lie.Value = encodeOMClaim(4, omTestRoot(6))
	f.Add(claim.AppendEncode(nil), lie.AppendEncode(nil), uint8(0)) // an equivocation
	f.Add([]byte{0}, []byte{}, uint8(1))
	f.Fuzz(func(t *testing.T, first, second []byte, order uint8) {
		c := newOMCluster(t, 4)
		v := c.vs[0]
		v.checkpointStable(4)
		c.queue = nil
		bodies := [][]byte{first, second, first}
		if order%2 == 1 {
			bodies = [][]byte{second, first, second}
		}
		for _, body := range bodies {
			if len(body) > omEnvelopeBytesMax {
				continue
			}
			v.receive("peer", append([]byte{omEnvelopeKind}, body...)) // unsigned
			m, err := om.Decode(body)
			if err != nil || int(m.From) >= len(c.keys) {
				continue
			}
			sig := c.keys[m.From].Sign(crypto.DomainOM, omTestChain, body)
			raw := append(append([]byte{omEnvelopeKind}, body...), sig[:]...)
			if opened, err := v.open(raw); err == nil && !bytes.Equal(opened.AppendEncode(nil), body) {
				t.Fatalf("envelope body %x opens as a message that encodes to %x", body, opened.AppendEncode(nil))
			}
			v.receive("peer", raw)
			v.tick()
		}
		// Evidence must prove what it says: two envelopes validator i
		// signed to this node, for one path, with different values.
		for _, run := range v.runs {
			if run == nil {
				continue
			}
			for i, pair := range run.equivocation {
				if pair[0] == nil {
					continue
				}
				a, errA := v.open(pair[0])
				b, errB := v.open(pair[1])
				if errA != nil || errB != nil || int(a.From) != i || !sameStatement(a, b) || bytes.Equal(a.Value, b.Value) {
					t.Fatalf("evidence against %d proves nothing: %v %v, %+v and %+v", i, errA, errB, a, b)
				}
			}
		}
	})
}
