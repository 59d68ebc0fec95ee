package om

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// Paper tests: each cites the part of Lamport, Shostak and Pease (1982),
// "The Byzantine Generals Problem", section 3, that it checks.

func TestOM0UsesReceivedValueOrDefault(t *testing.T) {
	// Goal: OM(0) step 2 — a lieutenant uses the value received, or RETREAT
	// if none arrives; method: drive two lieutenant Nodes by hand, one fed
	// the commander's message and one not.
	cfg := Config{Nodes: 3, Faults: 0, Commander: 0}
	cfg.Self = 1
	fed, err := NewNode(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Self = 2
	starved, _ := NewNode(cfg, nil)
	fed.Tick()
	starved.Tick()
	value := digestValue(9)
	if err := fed.Step(Message{From: 0, To: 1, Path: []NodeID{0}, Value: value}); err != nil {
		t.Fatal(err)
	}
	fed.Tick()
	starved.Tick()
	if got, ok := fed.Decision(); !ok || !bytes.Equal(got, value) {
		t.Errorf("fed lieutenant decided %x (done %v), want %x", got, ok, value)
	}
	if got, ok := starved.Decision(); !ok || got != nil {
		t.Errorf("starved lieutenant decided %x (done %v), want RETREAT", got, ok)
	}
}

func TestLoyalRunKeepsValueAndCountsMessages(t *testing.T) {
	// Goal: with everyone loyal, every lieutenant obeys the commander (IC2)
	// and exactly (n-1) + (n-1)(n-2) + … + (n-1)…(n-m-1) messages are sent;
	// method: simulate several (n, m) and compare with hand-computed counts.
	cases := []struct{ n, m, messages int }{
		{1, 0, 0},
		{2, 0, 1},
		{3, 1, 4},
		{4, 1, 9},
		{4, 3, 15},
		{5, 1, 16},
		{7, 2, 156},
		{10, 3, 3609},
	}
	value := digestValue(1)
	for _, tc := range cases {
		res := runNetwork(t, tc.n, tc.m, value, nil)
		if res.Messages != tc.messages || res.Messages != MessagesPerInstance(tc.n, tc.m) {
			t.Errorf("n=%d m=%d: %d messages, want %d", tc.n, tc.m, res.Messages, tc.messages)
		}
		if !res.IC1 || !res.IC2 || len(res.Decisions) != tc.n-1 {
			t.Errorf("n=%d m=%d: IC1=%v IC2=%v decisions=%d", tc.n, tc.m, res.IC1, res.IC2, len(res.Decisions))
		}
		for _, d := range res.Decisions {
			if !bytes.Equal(d.Value, value) {
				t.Errorf("n=%d m=%d: lieutenant %d decided %x", tc.n, tc.m, d.Node, d.Value)
			}
		}
	}
}

func TestFigure3TraitorLieutenant(t *testing.T) {
	// Goal: the paper's Figure 3 — OM(1), n=4, lieutenant 3 a traitor that
	// relays a wrong value; lieutenant 2 still obeys the commander; method:
	// script lieutenant 3 to relay a forged digest and check 1 and 2.
	value, forged := digestValue(1), digestValue(2)
	strategies := make([]Strategy, 4)
	strategies[3] = strategyFunc(func(path []NodeID, _ NodeID, _ []byte) ([]byte, bool) {
		return forged, true
	})
	res := runNetwork(t, 4, 1, value, strategies)
	if !res.IC1 || !res.IC2 {
		t.Fatalf("IC1=%v IC2=%v, decisions %v", res.IC1, res.IC2, res.Decisions)
	}
	for _, d := range res.Decisions {
		if !bytes.Equal(d.Value, value) {
			t.Errorf("lieutenant %d decided %x, want %x", d.Node, d.Value, value)
		}
	}
}

func TestFigure4TraitorCommander(t *testing.T) {
	// Goal: the paper's Figure 4 — OM(1), n=4, the commander a traitor that
	// sends x, y, z to the three lieutenants; they all reach the same
	// majority(x, y, z); method: script the commander and compare decisions.
	orders := map[NodeID][]byte{1: digestValue(10), 2: digestValue(20), 3: digestValue(30)}
	strategies := make([]Strategy, 4)
	strategies[0] = strategyFunc(func(_ []NodeID, to NodeID, _ []byte) ([]byte, bool) {
		return orders[to], true
	})
	res := runNetwork(t, 4, 1, nil, strategies)
	if !res.IC1 || len(res.Decisions) != 3 {
		t.Fatalf("IC1=%v, decisions %v", res.IC1, res.Decisions)
	}
	if res.Decisions[0].Value != nil {
		t.Errorf("majority(x, y, z) of three different orders is %x, want RETREAT", res.Decisions[0].Value)
	}
}

func TestDeliveryOrderWithinRoundIsIrrelevant(t *testing.T) {
	// Goal: a node's decision depends on what arrives in a round, not in
	// which order (the network may reorder); method: run n=7 m=2 with two
	// random traitors twice, once delivering each round in a shuffled order,
	// and compare every decision.
	const n, m = 7, 2
	for seed := range uint64(20) {
		decisions := func(shuffle bool) [][]byte {
			rng := rand.New(rand.NewPCG(seed, 1))
			traitor := &Random{Rand: rng, Values: [][]byte{retreat, attack}, Silence: true}
			nodes := make([]*Node, n)
			for id := range nodes {
				cfg := Config{Nodes: n, Faults: m, Self: NodeID(id)}
				if id == 2 || id == 5 {
					cfg.Strategy = traitor
				}
				nodes[id], _ = NewNode(cfg, attack)
			}
			order := rand.New(rand.NewPCG(seed, 2))
			for range m + 2 {
				var round []Message
				for _, nd := range nodes {
					nd.Tick()
					round = append(round, nd.Outbox()...)
				}
				if shuffle {
					order.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
				}
				for _, msg := range round {
					if err := nodes[msg.To].Step(msg); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
			}
			out := make([][]byte, n)
			for id, nd := range nodes {
				out[id], _ = nd.Decision()
			}
			return out
		}
		inOrder, shuffled := decisions(false), decisions(true)
		if !equalVectors(inOrder, shuffled) {
			t.Fatalf("seed %d: decisions %x in order, %x shuffled", seed, inOrder, shuffled)
		}
	}
}

func TestTickAfterDoneIsHarmless(t *testing.T) {
	// Goal: extra ticks neither send nor change the decision, so a caller
	// may tick uniformly; method: tick a finished loyal run three more times.
	w, _ := NewNetwork(4, 1, 0)
	strategies := make([]Strategy, 4)
	if _, err := w.Run(attack, strategies); err != nil {
		t.Fatal(err)
	}
	nd := w.nodes[1]
	before, _ := nd.Decision()
	for range 3 {
		nd.Tick()
		if len(nd.Outbox()) != 0 || !nd.Done() {
			t.Fatalf("tick after done sent %d messages", len(nd.Outbox()))
		}
	}
	if after, _ := nd.Decision(); !bytes.Equal(before, after) {
		t.Fatalf("decision changed from %x to %x", before, after)
	}
}

func TestValuesDifferingInOneByteAreDistinct(t *testing.T) {
	// Goal: a node tells apart values that share all but their last byte, as
	// checkpoint claims at one height do (same height, different root);
	// method: Figure 4 with three such orders, whose majority is RETREAT.
	orders := make(map[NodeID][]byte)
	for id := NodeID(1); id <= 3; id++ {
		v := digestValue(7)
		v[len(v)-1] += byte(id)
		orders[id] = v
	}
	commander := strategyFunc(func(_ []NodeID, to NodeID, _ []byte) ([]byte, bool) {
		return orders[to], true
	})
	res := runNetwork(t, 4, 1, nil, []Strategy{commander, nil, nil, nil})
	for _, d := range res.Decisions {
		if d.Value != nil {
			t.Fatalf("lieutenant %d decided %x, want RETREAT: three different orders have no majority", d.Node, d.Value)
		}
	}
}
