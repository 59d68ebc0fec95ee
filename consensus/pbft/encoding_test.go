package pbft_test

import (
	"bytes"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
)

// collectMessages runs a cluster through a view change and returns every kind of message it sent, encoded.
func collectMessages(t testing.TB) [][]byte {
	c := newCluster(t, clusterOpts{n: 4})
	var out [][]byte
	for i := range 4 {
		c.outgoing[i] = func(o pbft.Outbound) []pbft.Outbound {
			if len(out) < 400 {
				out = append(out, pbft.Encode(o.Msg))
			}
			return []pbft.Outbound{o}
		}
	}
	c.tickUntil(50, c.allCommitted(6, 0, 1, 2, 3))
	c.outgoing[0] = func(pbft.Outbound) []pbft.Outbound { return nil }
	c.tickUntil(200, c.allCommitted(10, 1, 2, 3))
	return out
}

// TestEncodingRoundTrip checks that every kind of message the engine sends decodes to a message with the same encoding and the same signed bytes, and that truncations are refused.
func TestEncodingRoundTrip(t *testing.T) {
	kinds := map[pbft.Kind]bool{}
	for i, b := range collectMessages(t) {
		m, err := pbft.Decode(b)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		kinds[m.Kind] = true
		if !bytes.Equal(pbft.Encode(m), b) {
			t.Fatalf("message %d (%s) changed in a round trip", i, m)
		}
		if _, err := pbft.Decode(b[:len(b)-1]); err == nil {
			t.Fatalf("message %d truncated decodes", i)
		}
	}
	for _, k := range []pbft.Kind{pbft.KindPrePrepare, pbft.KindPrepare, pbft.KindCommit, pbft.KindCheckpoint, pbft.KindViewChange, pbft.KindNewView} {
		if !kinds[k] {
			t.Fatalf("no %s seen", k)
		}
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts re-encodes to the same bytes (the encoding is canonical); the seed corpus holds one message of every kind.
func FuzzDecode(f *testing.F) {
	for _, b := range collectMessages(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := pbft.Decode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(pbft.Encode(m), b) {
			t.Fatalf("accepted input is not canonical")
		}
	})
}
