package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/synod-chain/synod/testnet"
)

var (
	tnIntervalFlag = &cli.DurationFlag{Name: "interval", Usage: "refresh interval", Value: time.Second}
	tnOnceFlag     = &cli.BoolFlag{Name: "once", Usage: "print one table and exit"}
	tnCountFlag    = &cli.IntFlag{Name: "count", Usage: "stop after this many refreshes (0: until Ctrl-C)"}
)

func testnetStatusCommand() *cli.Command {
	return &cli.Command{
		Name: "status", Usage: "show height, view, primary, peers and tx/s of every node, refreshed", ArgsUsage: "DIR",
		Flags: []cli.Flag{tnIntervalFlag, tnOnceFlag, tnCountFlag},
		Action: func(c *cli.Context) error {
			interval := c.Duration(tnIntervalFlag.Name)
			if interval < 100*time.Millisecond {
				return fmt.Errorf("--interval %s is below 100ms", interval)
			}
			// A negative count would print nothing and exit 0.
			count := c.Int(tnCountFlag.Name)
			if count < 0 {
				return fmt.Errorf("--count %d is negative (0: until Ctrl-C)", count)
			}
			if c.Bool(tnOnceFlag.Name) {
				count = 1
			}
			net, err := openNetwork(c)
			if err != nil {
				return err
			}
			prev := make([]testnet.NodeStatus, len(net.Members))
			prevAt := time.Time{}
			for round := 0; count == 0 || round < count; round++ {
				if round > 0 {
					select {
					case <-c.Context.Done():
						return nil
					case <-time.After(interval):
					}
				}
				now := time.Now()
				if count != 1 {
					fmt.Fprint(c.App.Writer, "\033[H\033[2J") // clear the terminal
				}
				printStatus(c.Context, c.App.Writer, net, prev, now.Sub(prevAt))
				prevAt = now
			}
			return nil
		},
	}
}

// printStatus prints one table; tx/s comes from the committed-tx counters
// since the previous table (prev is updated in place). A node whose admin
// address is answered by another process shows as "other", with the
// reason, and none of that process's numbers.
func printStatus(ctx context.Context, w io.Writer, net *testnet.Network, prev []testnet.NodeStatus, elapsed time.Duration) {
	fmt.Fprintf(w, "%-6s %-7s %8s %6s %7s %5s %8s %8s %s\n", "node", "state", "height", "view", "primary", "peers", "mempool", "tx/s", "")
	for i := range net.Members {
		st, err := net.Status(ctx, i)
		if errors.Is(err, testnet.ErrNotThisNode) {
			fmt.Fprintf(w, "node%-2d %-7s %v\n", i, "other", err)
			prev[i] = testnet.NodeStatus{}
			continue
		}
		state := "up"
		switch {
		case err != nil && net.Alive(i):
			state = "hung"
		case err != nil:
			state = "down"
		case st.Syncing:
			state = "syncing"
		}
		if err != nil {
			fmt.Fprintf(w, "node%-2d %-7s\n", i, state)
			prev[i] = testnet.NodeStatus{}
			continue
		}
		tps := "-"
		if prev[i].PID == st.PID && prev[i].PID != 0 && elapsed > 0 {
			tps = fmt.Sprintf("%.1f", float64(st.CommittedTxs-prev[i].CommittedTxs)/elapsed.Seconds())
		}
		fmt.Fprintf(w, "node%-2d %-7s %8d %6d %7d %5d %8d %8s\n", i, state, st.Height, st.View, st.Primary, st.Peers, st.MempoolSize, tps)
		prev[i] = st
	}
}

func waitHeight(ctx context.Context, net *testnet.Network, h uint64) error {
	var running []int
	for i := range net.Members {
		if net.Alive(i) {
			running = append(running, i)
		}
	}
	if len(running) == 0 {
		return fmt.Errorf("no node is running")
	}
	return net.WaitHeight(ctx, h, running)
}
