package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/synod-chain/synod/node"
	"github.com/synod-chain/synod/testnet"
)

// restartUpTimeout bounds the wait for a restarted node to answer.
const restartUpTimeout = 60 * time.Second

// restartNode starts node i and returns once it answers, so the next
// fault command (a partition, say) finds it listening.
func restartNode(net *testnet.Network, i int) error {
	if err := net.Start(i); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), restartUpTimeout)
	defer cancel()
	if err := net.WaitUp(ctx, i); err != nil {
		return fmt.Errorf("node%d started but does not answer: %w", i, err)
	}
	return nil
}

func testnetFaultCommand() *cli.Command {
	perNode := func(name, usage string, act func(net *testnet.Network, i int) error) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: "DIR NODE",
			Action: func(c *cli.Context) error {
				net, err := openNetwork(c)
				if err != nil {
					return err
				}
				i, err := nodeArg(c, 1, len(net.Members))
				if err != nil {
					return err
				}
				if err := act(net, i); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s node%d\n", name, i)
				return nil
			},
		}
	}
	return &cli.Command{
		Name:  "fault",
		Usage: "inject faults into a running testnet",
		Subcommands: []*cli.Command{
			perNode("kill", "SIGKILL the node (a crash)", func(n *testnet.Network, i int) error { return n.Kill(i) }),
			perNode("restart", "start a stopped or killed node again and wait until it answers", restartNode),
			perNode("stop", "stop the node gracefully (SIGTERM)", func(n *testnet.Network, i int) error { return n.Stop(i, 10*time.Second) }),
			perNode("pause", "freeze the node (SIGSTOP)", func(n *testnet.Network, i int) error { return n.Pause(i) }),
			perNode("resume", "unfreeze the node (SIGCONT)", func(n *testnet.Network, i int) error { return n.Resume(i) }),
			{
				Name: "partition", Usage: `split the network, e.g. "0,1|2,3": each node reaches only its own group`,
				ArgsUsage: "DIR GROUPS",
				Action: func(c *cli.Context) error {
					net, err := openNetwork(c)
					if err != nil {
						return err
					}
					groups, err := testnet.ParseGroups(c.Args().Get(1))
					if err != nil {
						return err
					}
					if err := net.Partition(c.Context, groups); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "partitioned %v\n", groups)
					return nil
				},
			},
			{
				Name: "byzantine", Usage: "restart NODE as a Byzantine validator (a test hook in its config.toml)",
				ArgsUsage: "DIR NODE",
				// --mode is checked in the action: urfave/cli prints the
				// whole help for a missing Required flag.
				Flags: []cli.Flag{&cli.StringFlag{Name: "mode",
					Usage: "silent, equivocate, invalid-proposals, double-vote, or honest to undo (required)"}},
				Action: func(c *cli.Context) error {
					if c.String("mode") == "" {
						return errors.New(`--mode is required: silent, equivocate, invalid-proposals, double-vote, or honest (see 'synod testnet fault byzantine --help')`)
					}
					net, err := openNetwork(c)
					if err != nil {
						return err
					}
					i, err := nodeArg(c, 1, len(net.Members))
					if err != nil {
						return err
					}
					mode := c.String("mode")
					if mode == "honest" {
						mode = node.ByzantineNone
					}
					cfg, err := node.LoadConfig(net.Members[i].Home)
					if err != nil {
						return err
					}
					cfg.Testing.Byzantine = mode
					if err := cfg.Validate(); err != nil {
						return err
					}
					if err := net.Stop(i, 10*time.Second); err != nil {
						return err
					}
					if err := node.WriteConfig(net.Members[i].Home, cfg); err != nil {
						return err
					}
					if err := restartNode(net, i); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "node%d restarted as %q\n", i, c.String("mode"))
					return nil
				},
			},
			{
				Name: "heal", Usage: "lift every partition", ArgsUsage: "DIR",
				Action: func(c *cli.Context) error {
					net, err := openNetwork(c)
					if err != nil {
						return err
					}
					if err := net.Heal(c.Context); err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, "healed")
					return nil
				},
			},
		},
	}
}
