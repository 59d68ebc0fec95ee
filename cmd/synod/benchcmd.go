package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/synod-chain/synod/testnet/loadgen"
)

// Flags of `synod bench`, geth-style: package variables with a category;
// the ones a user sets once per shell have an environment mirror.
var (
	benchRPCFlag = &cli.StringFlag{
		Name: "rpc", Usage: "comma-separated JSON-RPC URLs of the nodes; txs go to them round-robin",
		EnvVars: []string{"SYNOD_RPC"}, Category: "BENCH",
	}
	benchRateFlag = &cli.Float64Flag{
		Name: "rate", Usage: "offered load in tx/s (open loop: sent on schedule, not when replies come)",
		Value: 1000, Category: "BENCH",
	}
	benchDurationFlag = &cli.DurationFlag{
		Name: "duration", Usage: "length of the measured window", Value: 30 * time.Second, Category: "BENCH",
	}
	benchWarmupFlag = &cli.DurationFlag{
		Name: "warmup", Usage: "load before the measured window, not counted in latency or throughput", Category: "BENCH",
	}
	benchGraceFlag = &cli.DurationFlag{
		Name: "grace", Usage: "how long after the schedule ends an acknowledged tx may take to commit before it counts as lost (refused txs are offered again during its first half)",
		Value: loadgen.DefaultGrace, Category: "BENCH",
	}
	benchAccountsFlag = &cli.IntFlag{
		Name: "accounts", Usage: "funded accounts to send from (the first K keys of --keystore; 0 = all)",
		Value: 0, Category: "BENCH",
	}
	benchKeystoreFlag = &cli.StringFlag{
		Name: "keystore", Usage: "keystore directory of the funded accounts (a testnet's DIR/wallets)",
		EnvVars: []string{"SYNOD_KEYSTORE"}, Category: "BENCH",
	}
	benchPasswordFileFlag = &cli.StringFlag{
		Name: "password-file", Usage: "file whose first line is the keystore password (default: KEYSTORE/password.txt)",
		EnvVars: []string{"SYNOD_PASSWORD_FILE"}, Category: "BENCH",
	}
	benchTxSizeFlag = &cli.IntFlag{
		Name: "tx-size", Usage: "pad each tx's memo so it encodes to this many bytes, from a tx without a memo to one with the longest (0: no memo)", Category: "BENCH",
	}
	benchBatchFlag = &cli.IntFlag{
		Name: "batch", Usage: fmt.Sprintf("txs per request, as a JSON-RPC batch when above 1 (1..%d)", loadgen.BatchTxsMax),
		Value: loadgen.DefaultBatchTxs, Category: "BENCH",
	}
	benchBatchWaitFlag = &cli.DurationFlag{
		Name: "batch-wait", Usage: "how long a request short of --batch txs may wait for more to fall due (counted in the latency)",
		Value: benchBatchWaitDefault, Category: "BENCH",
	}
	benchInFlightFlag = &cli.IntFlag{
		Name: "in-flight", Usage: "concurrent requests at most; a tx without a free slot for --send-lag is counted unsent",
		Value: loadgen.DefaultInFlightMax, Category: "BENCH",
	}
	benchSendLagFlag = &cli.DurationFlag{
		Name: "send-lag", Usage: "how late a tx may leave before it counts as unsent", Value: loadgen.DefaultSendLagMax, Category: "BENCH",
	}
	benchSeedFlag = &cli.Uint64Flag{
		Name: "seed", Usage: "seed of recipients, amounts and memos", Value: 1, Category: "BENCH",
	}
	benchFeeFlag = &cli.Uint64Flag{
		Name: "fee", Usage: "fee of every tx", Value: loadgen.DefaultFee, Category: "BENCH",
	}
	benchP99Flag = &cli.DurationFlag{
		Name: "p99-max", Usage: "a run is sustained when its p99 latency is under this and no tx was lost, rejected, failed, unsent or refused even once", Value: time.Second, Category: "BENCH",
	}
	benchJSONFlag = &cli.StringFlag{
		Name: "json", Usage: "also write the report as JSON to this file", Category: "OUTPUT",
	}
	benchQuietFlag = &cli.BoolFlag{
		Name: "quiet", Usage: "no progress line every second", Category: "OUTPUT",
	}
	benchCPUProfileFlag = &cli.StringFlag{
		Name: "cpuprofile", Usage: "write a CPU profile of the generator during the run (not the signing) to this file, for go tool pprof",
		Category: "OUTPUT",
	}
)

// benchBatchWaitDefault lets a --batch request wait a little for the txs
// that fall due next: at 4,000 tx/s with --batch 10 requests then carry 10
// txs, not about 3, and the generator's CPU (shared with the nodes on one
// machine) falls by a quarter; at 1,000 tx/s a tx waits 2.5 ms on average,
// which the latency includes.
const benchBatchWaitDefault = 5 * time.Millisecond

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "offer signed transfers at a fixed rate and measure commits, latency and losses",
		ArgsUsage: " ",
		Description: `Signs every transfer up front from --accounts funded keys, then submits
them at --rate tx/s across the --rpc nodes for --duration, without waiting
for replies, and follows committed blocks over a WebSocket. Prints
committed tx/s, submit→commit latency (p50/p90/p99/max), and the txs
rejected (by JSON-RPC code), failed, unsent and lost (acknowledged but not
committed within --grace). A tx refused for a passing reason (pool full,
sender limit, nonce gap, node unavailable) is offered again with a
backoff, and counted as resubmitted. The last line is "summary key=value…".
A run in which nothing committed prints its report and exits non-zero.

Example, against testnet/run.sh's network:
  synod bench --rpc http://127.0.0.1:26601,http://127.0.0.1:26611 \
    --keystore testnet/out/wallets --rate 1000 --duration 20s`,
		Flags: []cli.Flag{benchRPCFlag, benchRateFlag, benchDurationFlag, benchWarmupFlag, benchGraceFlag,
			benchAccountsFlag, benchKeystoreFlag, benchPasswordFileFlag, benchTxSizeFlag, benchBatchFlag,
			benchBatchWaitFlag, benchInFlightFlag, benchSendLagFlag, benchSeedFlag, benchFeeFlag, benchP99Flag, benchJSONFlag, benchQuietFlag, benchCPUProfileFlag},
		Action: runBench,
	}
}

func runBench(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("bench takes no arguments, got %q", c.Args().First())
	}
	cfg, err := benchConfig(c)
	if err != nil {
		return err
	}
	g, err := loadgen.New(cfg)
	if err != nil {
		return benchFlagError(err)
	}
	// Created now, so a path that cannot be written is found before the
	// run rather than after it, with the run's results lost.
	jsonFile, err := createBenchJSON(c.String(benchJSONFlag.Name))
	if err != nil {
		return err
	}
	if jsonFile != nil {
		defer jsonFile.Close()
	}
	fmt.Fprintf(c.App.ErrWriter, "bench: signing %.0f transfers from %d accounts...\n",
		loadgen.PlannedTxs(cfg.Rate, cfg.Warmup, cfg.Duration), len(cfg.Keys))
	if err := g.Prepare(c.Context); err != nil {
		return benchFlagError(err)
	}
	stopProfile, err := startCPUProfile(c.String(benchCPUProfileFlag.Name))
	if err != nil {
		return err
	}
	cpuBefore := processCPU()
	res, err := g.Run(c.Context)
	if perr := stopProfile(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	if cpuBefore > 0 {
		res.ProcessCPUSec = (processCPU() - cpuBefore).Seconds()
	}
	// The text first: if the JSON cannot be written, the results are
	// still on screen.
	if err := res.WriteText(c.App.Writer, c.Duration(benchP99Flag.Name)); err != nil {
		return err
	}
	if jsonFile != nil {
		if err := writeBenchJSON(jsonFile, res); err != nil {
			return err
		}
	}
	return benchCommitted(res)
}

// benchCommitted fails a run in which no tx committed: its report holds
// no measurement (no throughput, no latency), and a zero exit would let
// a script or a sweep read it as one. The line says where the txs went.
func benchCommitted(res *loadgen.Result) error {
	if res.Committed > 0 {
		return nil
	}
	why := "is the network committing blocks?"
	if len(res.WatchErrors) > 0 {
		why = "the commit watcher could not follow blocks: " + res.WatchErrors[len(res.WatchErrors)-1]
	}
	return fmt.Errorf("bench: nothing committed (%d submitted, %d acknowledged, %d rejected, %d failed, %d unsent, %d blocks read); %s",
		res.Submitted, res.Acknowledged, res.Rejected, res.Failed, res.Unsent, res.BlocksRead, why)
}

// benchConfig turns the flags into a loadgen config, loading the keys.
func benchConfig(c *cli.Context) (loadgen.Config, error) {
	var urls []string
	for _, u := range strings.Split(c.String(benchRPCFlag.Name), ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return loadgen.Config{}, errors.New("--rpc is required: one or more comma-separated http:// URLs")
	}
	dir := c.String(benchKeystoreFlag.Name)
	if dir == "" {
		return loadgen.Config{}, errors.New("--keystore is required: the directory of the funded accounts' keys")
	}
	if n := c.Int(benchAccountsFlag.Name); n < 0 || n > loadgen.AccountsMax {
		return loadgen.Config{}, fmt.Errorf("--accounts %d not in 0..%d", n, loadgen.AccountsMax)
	}
	if s := c.Int(benchTxSizeFlag.Name); s < 0 {
		return loadgen.Config{}, fmt.Errorf("--tx-size %d is negative", s)
	}
	cfg := loadgen.Config{
		RPC: urls, Rate: c.Float64(benchRateFlag.Name), Duration: c.Duration(benchDurationFlag.Name),
		Warmup: c.Duration(benchWarmupFlag.Name), Grace: c.Duration(benchGraceFlag.Name),
		TxBytes: c.Int(benchTxSizeFlag.Name), Seed: c.Uint64(benchSeedFlag.Name), Fee: c.Uint64(benchFeeFlag.Name),
		InFlightMax: c.Int(benchInFlightFlag.Name), BatchTxs: c.Int(benchBatchFlag.Name),
		BatchWait:  c.Duration(benchBatchWaitFlag.Name),
		SendLagMax: c.Duration(benchSendLagFlag.Name),
	}
	if !c.Bool(benchQuietFlag.Name) {
		cfg.Progress = c.App.ErrWriter
	}
	// Refuse bad settings before decrypting keys.
	if err := benchNoZeroDefaults(c, cfg); err != nil {
		return loadgen.Config{}, err
	}
	cfg.SetDefaults()
	if err := cfg.ValidateSettings(); err != nil {
		return loadgen.Config{}, benchFlagError(err)
	}
	pwPath := c.String(benchPasswordFileFlag.Name)
	if pwPath == "" {
		pwPath = filepath.Join(dir, "password.txt")
	}
	password, err := loadgen.ReadPasswordFile(pwPath)
	if err != nil {
		return loadgen.Config{}, err
	}
	if cfg.Keys, err = loadgen.LoadKeystore(dir, password, c.Int(benchAccountsFlag.Name)); err != nil {
		return loadgen.Config{}, err
	}
	return cfg, nil
}

// benchNoZeroDefaults refuses a zero in the flags whose loadgen setting
// reads zero as "use the default": each flag has its default already, so
// a zero was typed, and the run would silently use 64 requests in flight
// or a 10-s grace instead. A --p99-max that is not positive would make
// every run "not sustained".
func benchNoZeroDefaults(c *cli.Context, cfg loadgen.Config) error {
	switch {
	case cfg.InFlightMax == 0:
		return fmt.Errorf("--in-flight 0 not in 1..%d", loadgen.InFlightMaxMax)
	case cfg.BatchTxs == 0:
		return fmt.Errorf("--batch 0 not in 1..%d", loadgen.BatchTxsMax)
	case cfg.SendLagMax == 0:
		return errors.New("--send-lag 0s not in (0, 1m]")
	case cfg.Grace == 0:
		return fmt.Errorf("--grace 0s not in (0, %s]", loadgen.GraceMax)
	}
	if p := c.Duration(benchP99Flag.Name); p <= 0 {
		return fmt.Errorf("--p99-max %s is not a latency: want a positive duration", p)
	}
	return nil
}

// benchFlagOf is the flag that sets each loadgen setting a flag sets.
var benchFlagOf = map[string]string{
	"RPC": "--rpc", "Rate": "--rate", "Duration": "--duration", "Warmup": "--warmup", "Grace": "--grace",
	"TxBytes": "--tx-size", "InFlightMax": "--in-flight", "BatchTxs": "--batch", "SendLagMax": "--send-lag",
	"BatchWait": "--batch-wait", "Schedule": "--rate × (--warmup + --duration)",
}

// benchFlagError reports a setting loadgen refused under the flag the
// user typed, not loadgen's name for it ("in-flight limit").
func benchFlagError(err error) error {
	var se *loadgen.SettingError
	if errors.As(err, &se) {
		if flag, ok := benchFlagOf[se.Field]; ok {
			return fmt.Errorf("%s %s", flag, se.Problem)
		}
	}
	return err
}

// startCPUProfile starts profiling to path (nothing when path is empty)
// and returns the function that stops it and closes the file. The
// generator shares the machine with the nodes it loads in a local
// testnet, so its own CPU is part of what a run measures.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		return nil
	}, nil
}

// createBenchJSON creates --json's file (nil for no path).
func createBenchJSON(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--json: %w", err)
	}
	return f, nil
}

// writeBenchJSON writes the report to f and closes it, so a failed
// close is reported (the caller's deferred Close then returns an error
// nobody reads).
func writeBenchJSON(f *os.File, res *loadgen.Result) error {
	if err := res.WriteJSON(f); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}
