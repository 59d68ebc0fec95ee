package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/node"
	"github.com/synod-chain/synod/testnet"
)

var (
	tnValidatorsFlag = &cli.IntFlag{Name: "validators", Aliases: []string{"n"}, Usage: "number of validators", Value: 4, Category: "TESTNET"}
	tnOutFlag        = &cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output directory (must be empty or absent)", Category: "TESTNET"}
	tnChainIDFlag    = &cli.StringFlag{Name: "chain-id", Usage: "chain id", Value: "synod-testnet", Category: "TESTNET"}
	tnBasePortFlag   = &cli.IntFlag{Name: "base-port", Usage: "node i uses ports base+10i .. base+10i+3 on 127.0.0.1", Value: 26600, Category: "TESTNET"}
	tnAccountsFlag   = &cli.IntFlag{Name: "accounts", Usage: "funded wallet accounts to create", Value: 8, Category: "TESTNET"}
	tnOMVerifyFlag   = &cli.BoolFlag{Name: "om-verify", Usage: "enable OM(m) checkpoint verification on every node", Category: "TESTNET"}
	tnPruneFlag      = &cli.BoolFlag{Name: "prune-history", Usage: "nodes keep only the current state of accounts, not their history (store.prune_history)", Category: "TESTNET"}
	tnCheckpointFlag = &cli.Uint64Flag{Name: "checkpoint-interval", Usage: "heights between checkpoints", Value: 16, Category: "TESTNET"}
	tnTimeoutFlag    = &cli.Uint64Flag{Name: "view-change-timeout-ms", Usage: "base view-change timeout; a timeout too short for the nodes' empty_block_interval_ms lowers it to a quarter of the timeout", Value: 2000, Category: "TESTNET"}
	tnHeightFlag     = &cli.Uint64Flag{Name: "height", Usage: "height every node must reach", Value: 1}
	tnWaitFlag       = &cli.DurationFlag{Name: "timeout", Usage: "how long to wait", Value: time.Minute}
)

func testnetCommand() *cli.Command {
	return &cli.Command{
		Name:      "testnet",
		Usage:     "generate, run and break a local multi-node network",
		ArgsUsage: " ",
		Description: `Without a subcommand, writes a fresh N-validator network to --out: one
home per validator (distinct loopback ports, each other as persistent
peers), the shared genesis with funded accounts, and their wallets in
OUT/wallets. testnet/run.sh builds, generates, starts and watches one.`,
		Flags: []cli.Flag{tnValidatorsFlag, tnOutFlag, tnChainIDFlag, tnBasePortFlag, tnAccountsFlag, tnOMVerifyFlag, tnPruneFlag, tnCheckpointFlag, tnTimeoutFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			if c.String(tnOutFlag.Name) == "" {
				return errors.New("--out is required to generate a testnet")
			}
			params := ledger.DefaultConsensusParams()
			params.CheckpointInterval = c.Uint64(tnCheckpointFlag.Name)
			params.WindowHeights = max(params.WindowHeights, 2*params.CheckpointInterval)
			params.ViewChangeTimeoutMs = c.Uint64(tnTimeoutFlag.Name)
			nodes, err := node.GenerateTestnet(node.TestnetOptions{
				Validators: c.Int(tnValidatorsFlag.Name), OutDir: c.String(tnOutFlag.Name),
				ChainID: c.String(tnChainIDFlag.Name), BasePort: c.Int(tnBasePortFlag.Name),
				Accounts: c.Int(tnAccountsFlag.Name), OMVerify: c.Bool(tnOMVerifyFlag.Name), PruneHistory: c.Bool(tnPruneFlag.Name), Params: params,
			})
			if err != nil {
				return err
			}
			for _, n := range nodes {
				fmt.Fprintf(c.App.Writer, "%s  home %s  rpc %s  peer %s\n", n.Moniker, n.Home, n.RPC, n.PeerID)
			}
			lo := c.Int(tnBasePortFlag.Name)
			hi := lo + node.TestnetPortsPerNode*len(nodes) - 1
			if raw, err := os.ReadFile(ephemeralPortRangeFile); err == nil {
				if elo, ehi, ok := overlapsEphemeral(lo, hi, string(raw)); ok {
					fmt.Fprintf(c.App.ErrWriter, "warning: ports %d..%d overlap the kernel's ephemeral range %d..%d: an outgoing connection "+
						"can hold one of them and a node then fails to start; a --base-port below %d avoids it\n", lo, hi, elo, ehi, elo)
				}
			}
			return nil
		},
		Subcommands: []*cli.Command{
			{
				Name: "stop", Usage: "stop every node of the testnet in DIR (SIGTERM, then SIGKILL after 10s)", ArgsUsage: "DIR",
				Action: func(c *cli.Context) error {
					net, err := openNetwork(c)
					if err != nil {
						return err
					}
					return net.StopAll(10 * time.Second)
				},
			},
			{
				Name: "alive", Usage: "exit 0 if any node of the testnet in DIR is running", ArgsUsage: "DIR",
				Action: func(c *cli.Context) error {
					net, err := openNetwork(c)
					if err != nil {
						return err
					}
					for i := range net.Members {
						if net.Alive(i) {
							fmt.Fprintf(c.App.Writer, "node%d running\n", i)
							return nil
						}
					}
					return errors.New("no node is running")
				},
			},
			{
				Name: "url", Usage: "print node I's RPC URL", ArgsUsage: "DIR I",
				Action: func(c *cli.Context) error {
					net, err := openNetwork(c)
					if err != nil {
						return err
					}
					i, err := nodeArg(c, 1, len(net.Members))
					if err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, net.Members[i].RPC)
					return nil
				},
			},
			{
				Name: "wait", Usage: "wait until every running node has committed --height", ArgsUsage: "DIR",
				Flags: []cli.Flag{tnHeightFlag, tnWaitFlag},
				Action: func(c *cli.Context) error {
					// A wait with no time would fail at once with the
					// context's "deadline exceeded", naming nothing.
					if d := c.Duration(tnWaitFlag.Name); d <= 0 {
						return fmt.Errorf("--timeout %s: want a positive duration", d)
					}
					net, err := openNetwork(c)
					if err != nil {
						return err
					}
					ctx, cancel := context.WithTimeout(c.Context, c.Duration(tnWaitFlag.Name))
					defer cancel()
					return waitHeight(ctx, net, c.Uint64(tnHeightFlag.Name))
				},
			},
			testnetStatusCommand(),
			testnetFaultCommand(),
		},
	}
}

// openNetwork reads the testnet in the first argument, after checking that
// the command got exactly the arguments its ArgsUsage names ("DIR",
// "DIR NODE"). A flag after DIR is not parsed as one (urfave/cli stops at
// the first argument), so without the check `wait DIR --height 9` would
// wait for the default height and succeed.
func openNetwork(c *cli.Context) (*testnet.Network, error) {
	want := strings.Fields(c.Command.ArgsUsage)
	if c.NArg() != len(want) {
		for _, a := range c.Args().Slice() {
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("flag %s after the arguments: flags go before %s", a, c.Command.ArgsUsage)
			}
		}
		return nil, fmt.Errorf("want arguments %s, got %d", c.Command.ArgsUsage, c.NArg())
	}
	dir := c.Args().First()
	if dir == "" {
		return nil, errors.New("missing testnet directory argument")
	}
	nodes, err := node.ReadTestnet(dir)
	if err != nil {
		return nil, err
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, err
	}
	net := &testnet.Network{Binary: bin}
	for _, n := range nodes {
		net.Members = append(net.Members, testnet.Member{Home: n.Home, RPC: n.RPC, Admin: n.Admin, PeerID: n.PeerID})
	}
	return net, nil
}

func nodeArg(c *cli.Context, pos, n int) (int, error) {
	raw := c.Args().Get(pos)
	i, err := strconv.Atoi(strings.TrimPrefix(raw, "node"))
	if err != nil || i < 0 || i >= n {
		return 0, fmt.Errorf("bad node %q: want 0..%d or node0..node%d", raw, n-1, n-1)
	}
	return i, nil
}

// ephemeralPortRangeFile holds the range Linux picks outgoing connections'
// local ports from.
const ephemeralPortRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// overlapsEphemeral reports whether ports lo..hi overlap the range in
// rangeText (two numbers, as in ip_local_port_range), and the range.
func overlapsEphemeral(lo, hi int, rangeText string) (elo, ehi int, overlap bool) {
	var n int
	if n, _ = fmt.Sscan(rangeText, &elo, &ehi); n != 2 || elo > ehi {
		return 0, 0, false
	}
	return elo, ehi, lo <= ehi && elo <= hi
}
