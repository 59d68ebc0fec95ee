package om

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"testing"
)

func TestLieIsLoyalAsCommanderAndLiesAsRelay(t *testing.T) {
	// Goal: Lie keeps the commander's value and always changes a relayed
	// one, whatever it holds; method: call it on both kinds of path.
	var lie Lie
	if v, ok := lie.Send([]NodeID{0}, 1, attack); !ok || !bytes.Equal(v, attack) {
		t.Errorf("as commander sent %x", v)
	}
	for _, held := range [][]byte{retreat, attack, digestValue(1)} {
		if v, ok := lie.Send([]NodeID{0, 2}, 1, held); !ok || bytes.Equal(v, held) {
			t.Errorf("relaying %x sent %x", held, v)
		}
	}
	forged := Lie{Forged: attack}
	if v, _ := forged.Send([]NodeID{0, 2}, 1, attack); bytes.Equal(v, attack) {
		t.Errorf("holding its forged value, Lie still sent it")
	}
}

func TestPlanSplitsLoyalNodesIntoTwoCamps(t *testing.T) {
	// Goal: a collusion plan puts loyal nodes in two non-empty camps and no
	// traitor in camp B; method: many seeded plans for n=7 with 2 traitors.
	traitors := []NodeID{2, 6}
	for seed := range uint64(200) {
		plan := NewPlan(7, traitors, attack, retreat, rand.New(rand.NewPCG(seed, 0)))
		campB := bits.OnesCount64(plan.CampB)
		if campB < 1 || campB > 4 || plan.CampB&(idBit(2)|idBit(6)) != 0 || plan.CampB>>7 != 0 {
			t.Fatalf("seed %d: camp B %07b", seed, plan.CampB)
		}
		c := Collude{Plan: plan}
		for to := range NodeID(7) {
			v, _ := c.Send([]NodeID{2}, to, nil)
			inB := plan.CampB&idBit(to) != 0
			if inB != (v == nil) {
				t.Fatalf("seed %d: node %d (camp B %v) told %x", seed, to, inB, v)
			}
		}
	}
}

func TestSplitSilentRandom(t *testing.T) {
	// Goal: the remaining strategies do what their names say; method: call
	// each on a few receivers.
	split := &Split{A: attack, B: retreat}
	if a, _ := split.Send([]NodeID{0}, 2, nil); !bytes.Equal(a, attack) {
		t.Error("split told an even receiver B")
	}
	if b, _ := split.Send([]NodeID{0}, 3, nil); b != nil {
		t.Error("split told an odd receiver A")
	}
	if _, ok := (Silent{}).Send([]NodeID{0}, 1, attack); ok {
		t.Error("silent sent")
	}
	if _, ok := (&Random{}).Send([]NodeID{0}, 1, attack); ok {
		t.Error("random with no choices sent")
	}
	r := &Random{Rand: rand.New(rand.NewPCG(1, 1)), Values: [][]byte{attack}, Silence: true}
	sent, silent := 0, 0
	for range 100 {
		if _, ok := r.Send([]NodeID{0}, 1, nil); ok {
			sent++
		} else {
			silent++
		}
	}
	if sent == 0 || silent == 0 {
		t.Errorf("random: %d sent, %d silent", sent, silent)
	}
}
