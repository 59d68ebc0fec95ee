package om

import (
	"bytes"
	"math/rand/v2"
)

// Strategy decides what a node actually sends. The node runs the loyal
// algorithm and asks its strategy about every message it would send, so a
// traitor is the honest node with one decision overridden, and every
// traitor message is well formed (right path, right round): the only
// freedom left to a traitor that the receivers cannot detect.
type Strategy interface {
	// Send is called once per message the loyal algorithm sends, in a
	// deterministic order (paths in lexicographic order, then receivers
	// ascending). path is the outgoing path, ending with the sender; loyal is
	// the value a loyal node sends. It returns the value to send, or false
	// to send nothing. It must not keep or modify path or loyal.
	Send(path []NodeID, to NodeID, loyal []byte) (value []byte, send bool)
}

// Compile-time checks that every strategy satisfies the interface.
var (
	_ Strategy = Loyal{}
	_ Strategy = Silent{}
	_ Strategy = (*Split)(nil)
	_ Strategy = Lie{}
	_ Strategy = Collude{}
	_ Strategy = (*Random)(nil)
)

// Loyal follows the algorithm.
type Loyal struct{}

func (Loyal) Send(_ []NodeID, _ NodeID, loyal []byte) ([]byte, bool) { return loyal, true }

// Silent never sends: the receivers fall back to the default value.
type Silent struct{}

func (Silent) Send([]NodeID, NodeID, []byte) ([]byte, bool) { return nil, false }

// Split tells different receivers different things, as commander and as
// relay: each message carries A or B, by a coin from Rand, or by the
// receiver's parity when Rand is nil.
type Split struct {
	A, B []byte
	Rand *rand.Rand
}

func (s *Split) Send(_ []NodeID, to NodeID, _ []byte) ([]byte, bool) {
	tellA := to%2 == 0
	if s.Rand != nil {
		tellA = s.Rand.IntN(2) == 0
	}
	if tellA {
		return s.A, true
	}
	return s.B, true
}

// Lie is loyal as a commander and lies whenever it relays: it sends Forged,
// or, if that is what it holds, a value different from it. The zero Lie
// relays RETREAT for any order and an attack for RETREAT.
type Lie struct {
	Forged []byte
}

func (l Lie) Send(path []NodeID, _ NodeID, loyal []byte) ([]byte, bool) {
	if len(path) == 1 {
		return loyal, true
	}
	return otherValue(loyal, l.Forged), true
}

// attackValue is the value a liar sends when it must differ from RETREAT
// and was given nothing better.
var attackValue = []byte{0x01}

// otherValue returns forged if it differs from held, else a value that does.
func otherValue(held, forged []byte) []byte {
	switch {
	case !bytes.Equal(held, forged):
		return forged
	case len(held) == 0:
		return attackValue
	default:
		return nil
	}
}

// Plan is what colluding traitors agree on before the run: the loyal nodes
// are cut into two camps, and every traitor tells camp A value A and camp B
// value B in every message, as commander and as relay, so that each camp
// sees a consistent story.
type Plan struct {
	CampB uint64 // ids told B, one bit per id; everyone else is told A
	A, B  []byte
}

// NewPlan cuts the loyal nodes (those not in traitors) into two non-empty
// camps at random (one camp if fewer than two are loyal).
func NewPlan(nodes int, traitors []NodeID, a, b []byte, rng *rand.Rand) *Plan {
	var traitorSet uint64
	for _, t := range traitors {
		traitorSet |= idBit(t)
	}
	loyal := make([]NodeID, 0, nodes)
	for id := range nodes {
		if traitorSet&idBit(NodeID(id)) == 0 {
			loyal = append(loyal, NodeID(id))
		}
	}
	plan := &Plan{A: a, B: b}
	if len(loyal) < 2 {
		return plan
	}
	rng.Shuffle(len(loyal), func(i, j int) { loyal[i], loyal[j] = loyal[j], loyal[i] })
	cut := 1 + rng.IntN(len(loyal)-1)
	for _, id := range loyal[cut:] {
		plan.CampB |= idBit(id)
	}
	return plan
}

// Collude follows a Plan shared by all traitors.
type Collude struct {
	Plan *Plan
}

func (c Collude) Send(_ []NodeID, to NodeID, _ []byte) ([]byte, bool) {
	if c.Plan.CampB&idBit(to) != 0 {
		return c.Plan.B, true
	}
	return c.Plan.A, true
}

// Random picks every message independently: one of Values, or silence when
// Silence is set. It samples the space of traitor behaviours in tests.
type Random struct {
	Rand    *rand.Rand
	Values  [][]byte
	Silence bool
}

func (r *Random) Send([]NodeID, NodeID, []byte) ([]byte, bool) {
	choices := len(r.Values)
	if r.Silence {
		choices++
	}
	if choices == 0 {
		return nil, false
	}
	pick := r.Rand.IntN(choices)
	if pick == len(r.Values) {
		return nil, false
	}
	return r.Values[pick], true
}
