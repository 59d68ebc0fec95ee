package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/synod-chain/synod/consensus/om"
	"github.com/urfave/cli/v2"
)

// omCommand is `synod om`: tools around the Oral Messages algorithm OM(m).
// The simulator is a teaching and audit tool: it puts the paper's bound
// n > 3m on screen with concrete runs.
func omCommand() *cli.Command {
	return &cli.Command{
		Name:        "om",
		Usage:       "the Oral Messages algorithm OM(m) (Lamport, Shostak, Pease 1982)",
		Subcommands: []*cli.Command{omSimulateCommand()},
	}
}

func omSimulateCommand() *cli.Command {
	return &cli.Command{
		Name:      "simulate",
		Usage:     "run OM(m) with chosen traitors and show whether IC1 and IC2 hold",
		UsageText: "synod om simulate --n 4 --m 1 --traitors 2 --strategy lie [--interactive] [--trace]",
		Description: "Runs one OM(m) instance, commanded by node 0, over synchronous rounds " +
			"(or, with --interactive, interactive consistency: every node commands its own " +
			"instance) and prints each loyal decision, whether IC1 (loyal nodes agree) and " +
			"IC2 (a loyal commander's value is kept) hold, and the message count. " +
			"The same flags and seed always print the same run. " +
			"Try n=4 m=1 (never violated) against n=3 m=1 --traitors 2 --strategy lie.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "n", Value: 4, Usage: fmt.Sprintf("number of generals (validators), 1..%d", om.NodesMax)},
			&cli.IntFlag{Name: "m", Value: 1, Usage: "traitors OM(m) is built to tolerate; it runs m+1 rounds (0..n-1)"},
			&cli.StringFlag{Name: "traitors", Usage: "comma-separated ids of traitor lieutenants, each in 1..n-1 (e.g. 1,3)"},
			&cli.BoolFlag{Name: "commander-traitor", Usage: "make node 0, the commander, a traitor too"},
			&cli.StringFlag{Name: "strategy", Value: om.StrategySplit,
				Usage: "what every traitor does: " + strings.Join(om.StrategyNames, "|")},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the traitors' random choices (split, collude, random)"},
			&cli.StringFlag{Name: "value", Value: "01", Usage: fmt.Sprintf("the commander's value in hex, at most %d bytes; empty is RETREAT", om.ValueBytesMax)},
			&cli.BoolFlag{Name: "interactive", Usage: "run interactive consistency: every node commands an instance with the same value"},
			&cli.BoolFlag{Name: "trace", Usage: "print every message sent"},
		},
		Action: func(ctx *cli.Context) error {
			if err := noArgs(ctx); err != nil {
				return err
			}
			flags := omSimulateFlags{
				nodes:            ctx.Int("n"),
				faults:           ctx.Int("m"),
				traitors:         ctx.String("traitors"),
				commanderTraitor: ctx.Bool("commander-traitor"),
				strategy:         ctx.String("strategy"),
				seed:             ctx.Uint64("seed"),
				value:            ctx.String("value"),
				interactive:      ctx.Bool("interactive"),
			}
			sc, err := flags.scenario()
			if err != nil {
				return err
			}
			out := ctx.App.Writer
			writeOMHeader(out, sc)
			if ctx.Bool("trace") {
				sc.Observe = func(round int, m om.Message) {
					fmt.Fprintf(out, "  round %d: %d → %d path %v says %s\n", round, m.From, m.To, m.Path, showValue(m.Value))
				}
			}
			rep, err := om.Simulate(sc)
			if err != nil {
				return fmt.Errorf("om simulate: %w", err)
			}
			if sc.Observe != nil {
				fmt.Fprintln(out)
			}
			writeOMOutcome(out, sc, rep)
			return nil
		},
	}
}

// omSimulateFlags are the simulate flags before validation.
type omSimulateFlags struct {
	nodes, faults    int
	traitors         string
	commanderTraitor bool
	strategy         string
	seed             uint64
	value            string
	interactive      bool
}

// scenario validates the flags and turns them into a scenario, with errors
// that name the flag to fix.
func (f omSimulateFlags) scenario() (om.Scenario, error) {
	if f.nodes < 1 || f.nodes > om.NodesMax {
		return om.Scenario{}, fmt.Errorf("--n must be in 1..%d, got %d", om.NodesMax, f.nodes)
	}
	if f.faults < 0 || f.faults >= f.nodes {
		return om.Scenario{}, fmt.Errorf("--m must be in 0..n-1 = 0..%d, got %d", f.nodes-1, f.faults)
	}
	traitors, err := parseTraitors(f.traitors, f.nodes)
	if err != nil {
		return om.Scenario{}, err
	}
	if f.commanderTraitor {
		traitors = append([]om.NodeID{0}, traitors...)
	}
	known := false
	for _, name := range om.StrategyNames {
		known = known || name == f.strategy
	}
	if !known {
		return om.Scenario{}, fmt.Errorf("--strategy must be one of %s, got %q", strings.Join(om.StrategyNames, "|"), f.strategy)
	}
	value, err := hex.DecodeString(f.value)
	if err != nil {
		return om.Scenario{}, fmt.Errorf("--value must be hex: %w", err)
	}
	if len(value) > om.ValueBytesMax {
		return om.Scenario{}, fmt.Errorf("--value is %d bytes, at most %d", len(value), om.ValueBytesMax)
	}
	return om.Scenario{
		Nodes: f.nodes, Faults: f.faults, Traitors: traitors, Strategy: f.strategy,
		Seed: f.seed, Value: value, Interactive: f.interactive,
	}, nil
}

// parseTraitors reads "1,3" into lieutenant ids, refusing the commander,
// ids out of range and repeats.
func parseTraitors(list string, nodes int) ([]om.NodeID, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var ids []om.NodeID
	seen := make(map[int]bool)
	for _, field := range strings.Split(list, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(field))
		switch {
		case err != nil:
			return nil, fmt.Errorf("--traitors: %q is not a node id", field)
		case id == 0:
			return nil, errors.New("--traitors: node 0 is the commander; use --commander-traitor")
		case id < 0 || id >= nodes:
			return nil, fmt.Errorf("--traitors: id %d out of range 1..%d", id, nodes-1)
		case seen[id]:
			return nil, fmt.Errorf("--traitors: id %d listed twice", id)
		}
		seen[id] = true
		ids = append(ids, om.NodeID(id))
	}
	return ids, nil
}

// writeOMHeader prints what is about to run and what the paper promises
// for it, before any trace.
func writeOMHeader(w io.Writer, sc om.Scenario) {
	traitor := make(map[om.NodeID]bool)
	for _, id := range sc.Traitors {
		traitor[id] = true
	}
	mode := fmt.Sprintf("OM(%d), commander 0 (%s) with value %s", sc.Faults, loyalty(traitor[0]), showValue(sc.Value))
	if sc.Interactive {
		mode = fmt.Sprintf("interactive consistency, %d × OM(%d), every node holds %s", sc.Nodes, sc.Faults, showValue(sc.Value))
	}
	fmt.Fprintf(w, "%s\n", mode)
	fmt.Fprintf(w, "n=%d m=%d traitors %v strategy %s seed %d\n", sc.Nodes, sc.Faults, sc.Traitors, sc.Strategy, sc.Seed)
	bound := "n > 3m holds: OM(m) guarantees IC1 and IC2 with up to m traitors"
	if sc.Nodes <= 3*sc.Faults {
		bound = fmt.Sprintf("n > 3m fails (%d <= %d): the paper promises nothing here", sc.Nodes, 3*sc.Faults)
	}
	if len(sc.Traitors) > sc.Faults {
		bound = fmt.Sprintf("%d traitors > m=%d: the paper promises nothing here", len(sc.Traitors), sc.Faults)
	}
	fmt.Fprintf(w, "%s\n\n", bound)
}

// writeOMOutcome prints each loyal decision, IC1 and IC2, and the cost.
func writeOMOutcome(w io.Writer, sc om.Scenario, rep om.Report) {
	for _, d := range rep.Decisions {
		fmt.Fprintf(w, "lieutenant %d decides %s\n", d.Node, showValue(d.Value))
	}
	for _, v := range rep.Vectors {
		entries := make([]string, len(v.Vector))
		for i, e := range v.Vector {
			entries[i] = showValue(e)
		}
		fmt.Fprintf(w, "node %d vector [%s]\n", v.Node, strings.Join(entries, " "))
	}
	fmt.Fprintf(w, "\nIC1 (loyal nodes agree): %s\n", holds(rep.IC1))
	fmt.Fprintf(w, "IC2 (a loyal commander's value is kept): %s\n", holds(rep.IC2))
	instances := 1
	if sc.Interactive {
		instances = sc.Nodes
	}
	fmt.Fprintf(w, "messages: %d sent (%d when nobody is silent)\n", rep.Messages, instances*om.MessagesPerInstance(sc.Nodes, sc.Faults))
	fmt.Fprintf(w, "transcript: %016x\n", rep.Transcript)
}

func showValue(v []byte) string {
	if len(v) == 0 {
		return "RETREAT"
	}
	return hex.EncodeToString(v)
}

func loyalty(isTraitor bool) string {
	if isTraitor {
		return "traitor"
	}
	return "loyal"
}

func holds(ok bool) string {
	if ok {
		return "holds"
	}
	return "VIOLATED"
}
