package main

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/node"
	"github.com/synod-chain/synod/rpc/rpctest"
	"github.com/synod-chain/synod/testnet/loadgen"
)

// benchFreePort returns a TCP port free on 127.0.0.1 right now.
func benchFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startBenchDevChain runs a single-validator dev chain in this process on
// free loopback ports and returns its RPC URL, its wallet keystore and the
// password file.
func startBenchDevChain(t *testing.T) (rpcURL, keystore, passwordFile string) {
	t.Helper()
	dir := t.TempDir()
	password := []byte("bench test password")
	dev, err := node.InitDevChain(node.DevChainOptions{Home: filepath.Join(dir, "home"), Moniker: "bench",
		ChainID: "bench-dev", Password: password, KDF: crypto.LightKDFParams()})
	if err != nil {
		t.Fatal(err)
	}
	passwordFile = filepath.Join(dir, "password.txt")
	if err := os.WriteFile(passwordFile, append(password, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	rpcAddr := fmt.Sprintf("127.0.0.1:%d", benchFreePort(t))
	p2pAddr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", benchFreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- node.Run(ctx, node.RunOptions{Home: dev.Home, Password: password, LogOutput: io.Discard,
			Override: func(c *node.Config) {
				c.P2P.Listen = []string{p2pAddr}
				c.RPC.Listen, c.Metrics.Listen, c.Admin.Listen = rpcAddr, "", ""
				c.Consensus.TickMs, c.Consensus.EmptyBlockIntervalMs = 20, 200
			},
			Ready: func(*node.Node) { close(ready) }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("dev chain did not stop in 30s")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("dev chain did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dev chain did not start in 30s")
	}
	return "http://" + rpcAddr, dev.Wallet, passwordFile
}

func runBenchApp(args ...string) (string, string, error) {
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"synod", "bench"}, args...))
	return out.String(), errOut.String(), err
}

// TestBenchAgainstDevChain runs `synod bench` for 2 s at 50 tx/s against a
// real single-validator node in this process and checks the report: every
// tx committed, none lost, latencies measured, progress shown, JSON
// written.
func TestBenchAgainstDevChain(t *testing.T) {
	url, keystore, pw := startBenchDevChain(t)
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	out, errOut, err := runBenchApp("--rpc", url, "--keystore", keystore, "--password-file", pw,
		"--rate", "50", "--duration", "2s", "--warmup", "200ms", "--grace", "10s", "--tx-size", "200",
		"--accounts", "1", "--json", jsonPath)
	if err != nil {
		t.Fatalf("bench: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	if !strings.Contains(out, "sustained=yes") || !strings.Contains(errOut, "committed") {
		t.Fatalf("report:\n%s\nprogress:\n%s", out, errOut)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var res loadgen.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if res.Submitted != 110 || res.Committed != 110 || res.Lost != 0 || res.Latency.Count != 100 || res.TxBytes != 200 {
		t.Fatalf("submitted %d committed %d lost %d latencies %d tx bytes %d, want 110, 110, 0, 100, 200",
			res.Submitted, res.Committed, res.Lost, res.Latency.Count, res.TxBytes)
	}
	// The process's CPU over the run: the node shares this process here,
	// so only its presence and bounds can be checked (2 cores at most
	// for the run's length, and some use).
	if res.ProcessCPUSec <= 0 || res.ProcessCPUSec > float64(runtime.NumCPU())*res.ElapsedSec {
		t.Fatalf("process CPU %.3f s over %.1f s on %d CPUs", res.ProcessCPUSec, res.ElapsedSec, runtime.NumCPU())
	}
	if !strings.Contains(out, "  generator   ") || !strings.Contains(out, "µs per submitted tx") {
		t.Fatalf("report lacks the generator's CPU:\n%s", out)
	}
}

// TestBenchFlagErrors checks that bad flags fail before any network
// access, with a message naming the flag.
func TestBenchFlagErrors(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rpc := "http://127.0.0.1:1"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--keystore", dir}, "--rpc is required"},
		{[]string{"--rpc", rpc}, "--keystore is required"},
		{[]string{"--rpc", "127.0.0.1:1", "--keystore", dir}, "must start with http://"},
		{[]string{"--rpc", rpc, "--keystore", dir, "--rate", "0"}, "rate 0"},
		{[]string{"--rpc", rpc, "--keystore", dir, "--duration", "0s"}, "duration"},
		{[]string{"--rpc", rpc, "--keystore", dir, "--tx-size", "-5"}, "--tx-size"},
		{[]string{"--rpc", rpc, "--keystore", dir, "--accounts", "-1"}, "--accounts"},
		{[]string{"--rpc", rpc, "--keystore", dir, "--rate", "1000000", "--duration", "1h"}, "at most"},
		{[]string{"--rpc", rpc, "--keystore", dir, "--batch", "1000"}, "batch"},
		{[]string{"--rpc", rpc, "--keystore", dir, "--password-file", pw}, "holds no keys"},
		{[]string{"--rpc", rpc, "--keystore", dir, "--password-file", filepath.Join(dir, "none")}, "password file"},
		{[]string{"--rpc", rpc, "--keystore", dir, "extra"}, "no arguments"},
	}
	for _, tc := range cases {
		_, _, err := runBenchApp(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// TestStartCPUProfile: with a path, the generator's CPU profile is written
// there (gzip-compressed protobuf, as go tool pprof reads); without one
// nothing happens; a path that cannot be created is a clear error.
func TestStartCPUProfile(t *testing.T) {
	stop, err := startCPUProfile("")
	if err != nil || stop() != nil {
		t.Fatalf("no path: %v", err)
	}
	path := filepath.Join(t.TempDir(), "bench.pb")
	stop, err = startCPUProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = fmt.Sprint(x) // something to sample
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		t.Fatalf("profile of %d bytes is not gzip data", len(raw))
	}
	if _, err := startCPUProfile(filepath.Join(t.TempDir(), "missing", "bench.pb")); err == nil || !strings.Contains(err.Error(), "--cpuprofile") {
		t.Fatalf("uncreatable path: %v", err)
	}
}

// benchFakeEnv is the rpctest backend behind a real rpc.Server on
// loopback, committing each tx at once if autoCommit, with its funded
// keys in a light-KDF keystore: `synod bench` against it needs no node.
// It returns the RPC URL, the keystore and its password file.
func benchFakeEnv(t *testing.T, autoCommit bool) (rpcURL, keystore, passwordFile string) {
	t.Helper()
	e := newWalletEnv(t)
	e.backend.AutoCommit = autoCommit
	ks, err := crypto.OpenKeystore(e.keystore)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rpctest.FundedAccounts {
		if _, err := ks.Store(rpctest.Key(i), []byte("correct horse"), crypto.LightKDFParams(), cryptorand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	return e.url, e.keystore, e.password
}

// TestBenchNothingCommittedFails runs `synod bench` against a node that
// accepts txs but never commits a block: the report is still printed,
// and the command fails with a line saying nothing committed, so a
// script (or a user skimming) cannot take the run for a measurement.
func TestBenchNothingCommittedFails(t *testing.T) {
	url, keystore, pw := benchFakeEnv(t, false)
	out, errOut, err := runBenchApp("--rpc", url, "--keystore", keystore, "--password-file", pw,
		"--rate", "20", "--duration", "200ms", "--grace", "200ms", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "nothing committed") {
		t.Fatalf("bench: error %v, want one saying nothing committed\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	if !strings.Contains(out, "summary ") || !strings.Contains(out, "committed=0") || !strings.Contains(out, "heights     none read from height 1") {
		t.Fatalf("no report before the error:\n%s", out)
	}
}

// TestBenchFlagErrorsNameTheFlag: a setting the load generator refuses
// is reported under the flag that set it (not loadgen's own name for
// it, "in-flight limit", "send lag"), on one line, before any network
// access.
func TestBenchFlagErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--rpc", "http://127.0.0.1:1", "--keystore", dir}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "0"}, "--rate 0 tx/s not in (0, 1000000]"},
		{[]string{"--duration", "0s"}, "--duration 0s not in"},
		{[]string{"--warmup", "-1s"}, "--warmup -1s not in"},
		{[]string{"--grace", "11m"}, "--grace 11m0s not in"},
		{[]string{"--tx-size", "600"}, "--tx-size 600 not in"},
		{[]string{"--in-flight", "-1"}, "--in-flight -1 not in 1..4096"},
		{[]string{"--batch", "1000"}, "--batch 1000 not in 1..100"},
		{[]string{"--send-lag", "2m"}, "--send-lag 2m0s not in"},
		{[]string{"--batch-wait", "2s"}, "--batch-wait 2s not in"},
		{[]string{"--rate", "1000000", "--duration", "1h"}, "--rate × (--warmup + --duration) is 3600000000 txs"},
		{[]string{"--rpc", "http://127.0.0.1:1,127.0.0.1:2"}, `--rpc "127.0.0.1:2" must start with http://`},
	}
	for _, tc := range cases {
		_, _, err := runBenchApp(append(append([]string{}, base...), tc.args...)...)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("bench %v: got %v, want one line starting %q", tc.args, err, tc.want)
		}
	}
}

// TestBenchRefusesZeroForADefault: loadgen reads a zero --in-flight,
// --batch, --send-lag or --grace as "use the default", so a typed zero
// ran silently with 64 requests in flight or a 10-s grace; and a zero
// --p99-max made every run "not sustained". Each is refused, naming the
// flag.
func TestBenchRefusesZeroForADefault(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--rpc", "http://127.0.0.1:1", "--keystore", dir}
	for _, tc := range []struct{ flag, zero string }{
		{"--in-flight", "0"}, {"--batch", "0"}, {"--send-lag", "0s"}, {"--grace", "0s"}, {"--p99-max", "0s"}, {"--p99-max", "-1s"},
	} {
		_, _, err := runBenchApp(append(append([]string{}, base...), tc.flag, tc.zero)...)
		if err == nil || !strings.HasPrefix(err.Error(), tc.flag+" "+tc.zero) {
			t.Errorf("bench %s %s: got %v, want an error starting %q", tc.flag, tc.zero, err, tc.flag+" "+tc.zero)
		}
	}
}

// TestBenchRefusesAnUnreachableTxSize: --tx-size outside the sizes a tx
// on the node's chain can have is refused under its flag, with the range,
// once the chain id is known (before any tx is sent).
func TestBenchRefusesAnUnreachableTxSize(t *testing.T) {
	url, keystore, pw := benchFakeEnv(t, true)
	_, _, err := runBenchApp("--rpc", url, "--keystore", keystore, "--password-file", pw, "--tx-size", "100", "--quiet")
	if err == nil || !strings.HasPrefix(err.Error(), "--tx-size 100 not in 154..410 bytes") {
		t.Fatalf("bench --tx-size 100: %v, want a refusal naming the flag and the range", err)
	}
}

// TestBenchChecksTheJSONPathFirst: a --json path that cannot be created
// was found out only after the run, and the error returned before the
// text report was printed, so a typo lost the whole run's results. The
// file is now created before any tx is signed, and the text report is
// printed before the JSON is written.
func TestBenchChecksTheJSONPathFirst(t *testing.T) {
	url, keystore, pw := benchFakeEnv(t, true)
	bad := filepath.Join(t.TempDir(), "missing-dir", "bench.json")
	out, errOut, err := runBenchApp("--rpc", url, "--keystore", keystore, "--password-file", pw,
		"--rate", "20", "--duration", "200ms", "--quiet", "--json", bad)
	if err == nil || !strings.HasPrefix(err.Error(), "--json: ") {
		t.Fatalf("bench --json %s: %v, want a --json error", bad, err)
	}
	if strings.Contains(errOut, "signing") || out != "" {
		t.Fatalf("the run went ahead before the --json error:\nstdout: %s\nstderr: %s", out, errOut)
	}
}
