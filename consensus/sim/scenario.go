package sim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
)

// Scenario is one simulation run as data: with its seed it replays exactly.
// Times are in simulated milliseconds.
type Scenario struct {
	Name string `json:"name,omitempty"`
	Seed uint64 `json:"seed"`
	N    int    `json:"n"`
	// GST: from then on no loss, no partitions, delays at most DeltaMs.
	GST        int64       `json:"gst_ms"`
	MaxDelayMs int64       `json:"max_delay_ms"` // before GST
	DeltaMs    int64       `json:"delta_ms"`     // after GST
	LossPct    int         `json:"loss_pct"`     // before GST
	DupPct     int         `json:"dup_pct"`
	Partitions []Partition `json:"partitions,omitempty"`
	// Byzantine maps validator index to a behaviour name (byzantine.go).
	Byzantine map[uint16]string `json:"byzantine,omitempty"`
	// Twins lists validators run twice, by two nodes sharing the key; the
	// twin of validator Twins[j] is node N+j.
	Twins   []uint16 `json:"twins,omitempty"`
	Crashes []Crash  `json:"crashes,omitempty"`
	Txs     int      `json:"txs"`
	// TimeoutTicks is the base view-change timeout; a tick is TickMs.
	TimeoutTicks uint64 `json:"timeout_ticks"`
	// Heights every correct replica must commit after GST.
	Heights int `json:"heights"`
	// KeepForks makes every node's application ignore pbft's
	// Application.Retain and keep the blocks of earlier views until a
	// commit prunes them: the engine must stay safe without that help
	// (an application may keep what it likes; live too, short of forks
	// enough to fill every replica's pending chain), and the
	// fork-parent adversary needs correct replicas to still hold the
	// sibling it builds on.
	KeepForks bool `json:"keep_forks,omitempty"`
	// ExpectViolation marks scenarios beyond the fault bound that must
	// break safety (to show the checkers can fail).
	ExpectViolation bool `json:"expect_violation,omitempty"`
}

// Partition splits the nodes into groups from Start to End; messages
// between groups are dropped. A node in no group is cut off from all.
type Partition struct {
	Start  int64   `json:"start_ms"`
	End    int64   `json:"end_ms"`
	Groups [][]int `json:"groups"`
}

// Crash stops node Node at At and restarts it from its persisted records
// at Restart. MidReady crashes after persisting a Ready but before sending
// its messages or applying its commits.
type Crash struct {
	Node     int   `json:"node"`
	At       int64 `json:"at_ms"`
	Restart  int64 `json:"restart_ms"`
	MidReady bool  `json:"mid_ready"`
}

// check refuses a scenario the network cannot run: stored scenarios are
// data, and a bad one must fail with its reason, not panic mid-run.
func (sc *Scenario) check() error {
	nodes := sc.N + len(sc.Twins)
	if sc.DeltaMs < 1 || (sc.GST > 0 && sc.MaxDelayMs < 1) {
		return fmt.Errorf("sim: scenario %q: delta_ms %d and, before GST, max_delay_ms %d must be at least 1", sc.Name, sc.DeltaMs, sc.MaxDelayMs)
	}
	for _, v := range sc.Twins {
		if int(v) >= sc.N {
			return fmt.Errorf("sim: scenario %q: twin of validator %d, n is %d", sc.Name, v, sc.N)
		}
	}
	for v := range sc.Byzantine {
		if int(v) >= sc.N {
			return fmt.Errorf("sim: scenario %q: Byzantine validator %d, n is %d", sc.Name, v, sc.N)
		}
	}
	for _, c := range sc.Crashes {
		if c.Node < 0 || c.Node >= nodes {
			return fmt.Errorf("sim: scenario %q: crash of node %d, there are %d", sc.Name, c.Node, nodes)
		}
	}
	return nil
}

// TickMs is how often every replica ticks.
const TickMs = 10

// RandomScenario draws a scenario within the fault bound from seed: n of 4,
// 7 or 10, up to f faulty validators (Byzantine of every kind, or twins),
// crash-restarts of correct ones before GST, loss, duplication, delay and
// partitions that change over time before GST.
func RandomScenario(seed uint64) Scenario {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	ns := []int{4, 4, 4, 7, 7, 10}
	sc := Scenario{Seed: seed, N: ns[rng.IntN(len(ns))], MaxDelayMs: int64(5 + rng.IntN(60)), DeltaMs: int64(2 + rng.IntN(15)),
		LossPct: rng.IntN(25), DupPct: rng.IntN(10), Txs: 2 + rng.IntN(4), TimeoutTicks: 8, Heights: 30}
	sc.GST = int64(rng.IntN(1500))
	f := (sc.N - 1) / 3
	faulty := rng.IntN(f + 1)
	perm := rng.Perm(sc.N)
	if faulty > 0 && rng.IntN(4) == 0 {
		for _, v := range perm[:faulty] {
			sc.Twins = append(sc.Twins, uint16(v))
		}
	} else if faulty > 0 {
		sc.Byzantine = make(map[uint16]string)
		for _, v := range perm[:faulty] {
			sc.Byzantine[uint16(v)] = ByzantineFaults[rng.IntN(len(ByzantineFaults))]
		}
	}
	nodes := sc.N + len(sc.Twins)
	for t := int64(0); t < sc.GST; t += int64(100 + rng.IntN(400)) {
		if rng.IntN(2) == 0 {
			continue
		}
		sc.Partitions = append(sc.Partitions, Partition{Start: t, End: min(t+int64(50+rng.IntN(400)), sc.GST), Groups: randomGroups(rng, nodes)})
	}
	for _, v := range perm[faulty:] {
		if sc.GST > 100 && rng.IntN(4) == 0 {
			at := int64(rng.IntN(int(sc.GST)))
			sc.Crashes = append(sc.Crashes, Crash{Node: v, At: at, Restart: at + int64(rng.IntN(int(sc.GST-at)+1)), MidReady: rng.IntN(2) == 0})
		}
	}
	sc.KeepForks = rng.IntN(4) == 0 // drawn last: the fields above stay what each seed gave before
	return sc
}

func randomGroups(rng *rand.Rand, nodes int) [][]int {
	groups := make([][]int, 2+rng.IntN(2))
	for i := range nodes {
		g := rng.IntN(len(groups))
		groups[g] = append(groups[g], i)
	}
	return groups
}

// LoadScenario reads a scenario stored as JSON (testdata/*.json).
func LoadScenario(path string) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	var sc Scenario
	if err := json.Unmarshal(b, &sc); err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", path, err)
	}
	return sc, nil
}

// ReplayCommand is the command that replays a random scenario exactly.
func ReplayCommand(seed uint64) string {
	return fmt.Sprintf("go test ./consensus/sim -run TestReplaySeed -seed=%d -v", seed)
}
