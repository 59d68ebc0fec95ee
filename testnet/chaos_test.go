package testnet_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/node"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
	"github.com/synod-chain/synod/testnet"
	"github.com/synod-chain/synod/testnet/loadgen"
)

var (
	chaosLong = flag.Bool("chaos.long", false, "run the long chaos test: 4 and 7 validators, longer load")
	chaosSeed = flag.Uint64("chaos.seed", 0, "seed of the fault schedule (0: random, printed)")
)

// chaosAccounts spreads the load so no account runs more than the
// mempool's nonce window (64) ahead while a partition stalls commits: a
// refused nonce would strand every later tx of its account.
const chaosAccounts = 64

// chaosPlan sizes one chaos run.
type chaosPlan struct {
	validators int
	rate       float64
	load       time.Duration
	byzantine  string
}

// TestChaos runs real synod processes under steady load from the load
// generator while it kills and restarts nodes (never more than f down or
// Byzantine at once), pauses one, partitions and heals the network, and
// then runs one Byzantine validator. At the end every honest node must
// hold identical blocks at every height, every tx the RPC acknowledged must
// be committed exactly once, balances must sum to the genesis supply, and
// no honest validator may appear in any evidence of conflicting votes,
// while the Byzantine double-voter must.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end chaos test; skipped in -short")
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("chaos seed %d (replay the schedule with -chaos.seed=%d)", seed, seed)
	plans := []chaosPlan{{validators: 4, rate: 60, load: 25 * time.Second, byzantine: node.ByzantineDoubleVote}}
	if *chaosLong {
		plans = []chaosPlan{
			{validators: 4, rate: 200, load: 90 * time.Second, byzantine: node.ByzantineDoubleVote},
			{validators: 7, rate: 150, load: 90 * time.Second, byzantine: node.ByzantineEquivocate},
		}
	}
	bin := buildSynod(t)
	for _, plan := range plans {
		t.Run(fmt.Sprintf("n=%d", plan.validators), func(t *testing.T) {
			runChaos(t, bin, plan, rand.New(rand.NewPCG(seed, uint64(plan.validators))))
		})
	}
}

func buildSynod(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "synod")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/synod").CombinedOutput()
	if err != nil {
		t.Fatalf("build synod: %v\n%s", err, out)
	}
	return bin
}

// freePorts finds a base port with n nodes' worth of free TCP and UDP
// ports on 127.0.0.1, in 27000..28999: below the kernel's ephemeral range
// (32768 up), where an outgoing connection could take a node's port after
// the check, and apart from the node package's tests (below 26600) and
// the leader-crash test (29000 up).
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 27000 + rand.IntN(2000/node.TestnetPortsPerNode-n)*node.TestnetPortsPerNode
		free := true
		for p := base; p < base+n*node.TestnetPortsPerNode && free; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				free = false
				break
			}
			l.Close()
			u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				free = false
				break
			}
			u.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func runChaos(t *testing.T, bin string, plan chaosPlan, rng *rand.Rand) {
	dir := t.TempDir()
	n := plan.validators
	f := (n - 1) / 3
	gen := exec.Command(bin, "testnet", "--validators", strconv.Itoa(n), "--out", dir,
		"--base-port", strconv.Itoa(freePorts(t, n)), "--accounts", strconv.Itoa(chaosAccounts), "--checkpoint-interval", "8")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	nodes, err := node.ReadTestnet(dir)
	if err != nil {
		t.Fatal(err)
	}
	netw := &testnet.Network{Binary: bin}
	var urls []string
	for _, nd := range nodes {
		netw.Members = append(netw.Members, testnet.Member{Home: nd.Home, RPC: nd.RPC, Admin: nd.Admin, PeerID: nd.PeerID})
		urls = append(urls, nd.RPC)
	}
	t.Cleanup(func() {
		if err := netw.StopAll(10 * time.Second); err != nil {
			t.Errorf("stop: %v", err)
		}
		if t.Failed() {
			for i := range nodes {
				t.Logf("log of node%d: %s", i, filepath.Join(nodes[i].Home, "node.log"))
			}
		}
	})
	for i := range nodes {
		if err := netw.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), plan.load+3*time.Minute)
	defer cancel()
	if err := netw.WaitHeight(ctx, 2, nil); err != nil {
		t.Fatalf("network did not start: %v", err)
	}

	password, err := loadgen.ReadPasswordFile(filepath.Join(dir, "wallets", "password.txt"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := loadgen.LoadKeystore(filepath.Join(dir, "wallets"), password, chaosAccounts)
	if err != nil {
		t.Fatal(err)
	}
	gen2, err := loadgen.New(loadgen.Config{RPC: urls, Rate: plan.rate, Duration: plan.load, Grace: 60 * time.Second,
		Keys: keys, Seed: rng.Uint64(), Fee: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := gen2.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	type loadResult struct {
		res *loadgen.Result
		err error
	}
	loadDone := make(chan loadResult, 1)
	go func() {
		res, err := gen2.Run(ctx)
		loadDone <- loadResult{res, err}
	}()

	byz, before := injectFaults(t, ctx, netw, plan, f, rng)

	lr := <-loadDone
	if lr.err != nil {
		t.Fatalf("load: %v", lr.err)
	}
	res := lr.res
	t.Logf("load: acknowledged %d, committed %d, rejected %d %v, failed %d, lost %d, duplicates %d, p50 %.0f ms, p99 %.0f ms",
		res.Acknowledged, res.Committed, res.Rejected, res.RejectedByCode, res.Failed, res.Lost, res.Duplicates, res.Latency.P50Ms, res.Latency.P99Ms)
	if res.Acknowledged == 0 {
		t.Fatal("no tx was acknowledged")
	}
	if res.Lost != 0 || res.Duplicates != 0 {
		t.Fatalf("%d acknowledged txs lost, %d committed twice", res.Lost, res.Duplicates)
	}
	honest := make([]int, 0, n)
	for i := 0; i < n; i++ {
		if i != byz {
			honest = append(honest, i)
		}
	}
	checkInvariants(t, ctx, netw, honest, byz, before, plan, gen2.Acknowledged())
}

// injectFaults runs the fault schedule while the load runs and returns
// the Byzantine validator's index and the evidence every node held when
// that validator turned Byzantine. Crash and pause faults hit at most f
// nodes at once; the Byzantine phase comes last, alone.
func injectFaults(t *testing.T, ctx context.Context, netw *testnet.Network, plan chaosPlan, f int, rng *rand.Rand) (int, map[int][]testnet.Evidence) {
	n := len(netw.Members)
	step := plan.load / 6
	sleep := func(d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// 1. Kill f random nodes, restart them.
	sleep(step / 2)
	victims := rng.Perm(n)[:f]
	for _, v := range victims {
		must(fmt.Sprintf("kill node%d", v), netw.Kill(v))
	}
	t.Logf("killed %v", victims)
	sleep(step)
	for _, v := range victims {
		must(fmt.Sprintf("restart node%d", v), netw.Start(v))
	}
	// 2. Pause one node, resume it.
	sleep(step / 2)
	p := rng.IntN(n)
	must("pause", netw.Pause(p))
	t.Logf("paused node%d", p)
	sleep(step / 2)
	must("resume", netw.Resume(p))
	// 3. Partition into a majority that cannot reach a quorum without
	// the rest and a minority, then heal.
	sleep(step / 2)
	perm := rng.Perm(n)
	groups := [][]int{perm[:n/2], perm[n/2:]}
	must("partition", netw.Partition(ctx, groups))
	t.Logf("partitioned %v", groups)
	sleep(step)
	must("heal", netw.Heal(ctx))
	// 4. One Byzantine validator for the rest of the run. Until now every
	// validator was honest, the one about to turn Byzantine too.
	sleep(step / 2)
	before := make(map[int][]testnet.Evidence)
	for i := range n {
		must(fmt.Sprintf("node%d up", i), netw.WaitUp(ctx, i))
		ev, err := adminEvidence(ctx, netw, i)
		must(fmt.Sprintf("evidence of node%d", i), err)
		before[i] = ev
	}
	byz := rng.IntN(n)
	cfg, err := node.LoadConfig(netw.Members[byz].Home)
	must("load config", err)
	cfg.Testing.Byzantine = plan.byzantine
	must("stop", netw.Stop(byz, 10*time.Second))
	must("write config", node.WriteConfig(netw.Members[byz].Home, cfg))
	must("start byzantine", netw.Start(byz))
	t.Logf("node%d is Byzantine (%s)", byz, plan.byzantine)
	return byz, before
}

func checkInvariants(t *testing.T, ctx context.Context, netw *testnet.Network, honest []int, byz int, before map[int][]testnet.Evidence,
	plan chaosPlan, acked []crypto.Hash) {
	// Every honest node reaches the same height.
	target := uint64(0)
	for _, i := range honest {
		st, err := netw.Status(ctx, i)
		if err != nil {
			t.Fatalf("status of node%d: %v", i, err)
		}
		target = max(target, st.Height)
	}
	if err := netw.WaitHeight(ctx, target, honest); err != nil {
		t.Fatalf("honest nodes did not converge on height %d: %v", target, err)
	}
	clients := make(map[int]*client.Client)
	for _, i := range honest {
		c, err := client.Dial(ctx, netw.Members[i].RPC)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	// Identical blocks at every height, one hash chain; each acknowledged
	// tx exactly once.
	chain := newChainCheck()
	for h := uint64(1); h <= target; h++ {
		blocks := make([]*rpc.Block, 0, len(honest))
		for _, i := range honest {
			b, err := clients[i].BlockByNumber(ctx, rpc.AtHeight(h), true)
			if err != nil || b == nil {
				t.Fatalf("node%d block %d: %v", i, h, err)
			}
			blocks = append(blocks, b)
		}
		if _, err := chain.add(honest, blocks); err != nil {
			t.Fatal(err)
		}
	}
	// Every acknowledged tx committed once; balances sum to the genesis
	// supply at the common height.
	if err := chain.finish(ctx, netw, func(i int) *client.Client { return clients[i] }, honest, target, acked); err != nil {
		t.Fatal(err)
	}
	// No honest validator in any evidence; the double-voter caught.
	evidence := make(map[int][]testnet.Evidence)
	for _, i := range honest {
		st, err := adminEvidence(ctx, netw, i)
		if err != nil {
			t.Fatal(err)
		}
		evidence[i] = st
	}
	if err := checkEvidence(before, evidence, byz, plan.byzantine == node.ByzantineDoubleVote); err != nil {
		t.Fatal(err)
	}
	t.Logf("checked %d heights on %d honest nodes, %d acknowledged txs, %d accounts", target, len(honest), len(acked), len(chain.addrs))
}

func adminEvidence(ctx context.Context, netw *testnet.Network, i int) ([]testnet.Evidence, error) {
	st, err := netw.Status(ctx, i)
	if err != nil {
		return nil, err
	}
	return st.Evidence, nil
}
