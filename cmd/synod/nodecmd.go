package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/node"
)

// Flags of the node commands, geth-style: package variables with dotted
// names, a category and an environment mirror.
var (
	homeFlag = &cli.StringFlag{
		Name: "home", Usage: "node home directory (config.toml, genesis.json, keys/, data/)",
		EnvVars: []string{"SYNOD_HOME"}, Value: defaultHome(), Category: "NODE",
	}
	initMonikerFlag = &cli.StringFlag{
		Name: "moniker", Usage: "human-readable node name", Category: "NODE", Value: "node0",
	}
	initChainIDFlag = &cli.StringFlag{
		Name: "chain-id", Usage: "chain id of the dev chain", Category: "NODE", Value: "synod-dev",
	}
	nodePasswordFileFlag = &cli.StringFlag{
		Name: "password-file", Usage: "file holding the key password (default: HOME/keys/password.txt)",
		EnvVars: []string{"SYNOD_PASSWORD_FILE"}, Category: "NODE",
	}
	omVerifyFlag = &cli.BoolFlag{
		Name: "om-verify", Usage: "run OM(m) interactive consistency on every stable checkpoint", Category: "CONSENSUS",
	}
	logLevelFlag = &cli.StringFlag{
		Name: "log.level", Usage: "debug, info, warn or error (overrides config)", Category: "LOGGING",
		EnvVars: []string{"SYNOD_LOG_LEVEL"},
	}
	logFormatFlag = &cli.StringFlag{
		Name: "log.format", Usage: "text or json (overrides config)", Category: "LOGGING",
	}
	rpcListenFlag = &cli.StringFlag{
		Name: "rpc.listen", Usage: "JSON-RPC listen address (overrides config)", Category: "API",
	}
)

func defaultHome() string {
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".synod")
	}
	return ".synod"
}

func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create a single-validator dev chain in a node home",
		Description: `Writes config.toml, encrypted validator and node keys, a genesis with this
node as the only validator (n = 1, f = 0: it commits blocks on its own) and
one funded dev account, whose key goes to HOME/wallet (a keystore for
'synod wallet'). The password of every key is read from --password-file,
or generated; either way it is kept in HOME/keys/password.txt (mode 0600)
so 'synod start --home HOME' runs unattended. For a multi-validator local
network use 'synod testnet' or testnet/run.sh instead.`,
		Flags: []cli.Flag{homeFlag, initMonikerFlag, initChainIDFlag, nodePasswordFileFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			var password []byte
			if pwFile := c.String(nodePasswordFileFlag.Name); pwFile != "" {
				var err error
				if password, err = node.ReadPasswordFile(pwFile); err != nil {
					return err
				}
			}
			dev, err := node.InitDevChain(node.DevChainOptions{
				Home: c.String(homeFlag.Name), Moniker: c.String(initMonikerFlag.Name),
				ChainID: c.String(initChainIDFlag.Name), Password: password, KDF: crypto.DefaultKDFParams(),
			})
			if err != nil {
				return err
			}
			w := c.App.Writer
			fmt.Fprintf(w, "home:              %s\n", dev.Home)
			fmt.Fprintf(w, "chain id:          %s\n", dev.ChainID)
			fmt.Fprintf(w, "validator key:     %s\n", dev.Keys.Validator.Public())
			fmt.Fprintf(w, "peer id:           %s\n", dev.PeerID)
			fmt.Fprintf(w, "dev account:       %s (%d, key in %s)\n", dev.Account, dev.Balance, dev.Wallet)
			fmt.Fprintf(w, "start it with:     synod start --home %s\n", dev.Home)
			return nil
		},
	}
}

func startCommand() *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "run the validator daemon until SIGINT or SIGTERM",
		Flags: []cli.Flag{homeFlag, nodePasswordFileFlag, omVerifyFlag, logLevelFlag, logFormatFlag, rpcListenFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			home := c.String(homeFlag.Name)
			pwFile := c.String(nodePasswordFileFlag.Name)
			if pwFile == "" {
				pwFile = filepath.Join(home, node.PasswordFile)
			}
			password, err := node.ReadPasswordFile(pwFile)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return node.Run(ctx, node.RunOptions{
				Home:     home,
				Password: password,
				Override: func(cfg *node.Config) {
					if c.IsSet(omVerifyFlag.Name) {
						cfg.OMVerify = c.Bool(omVerifyFlag.Name)
					}
					if v := c.String(logLevelFlag.Name); v != "" {
						cfg.Log.Level = v
					}
					if v := c.String(logFormatFlag.Name); v != "" {
						cfg.Log.Format = v
					}
					if v := c.String(rpcListenFlag.Name); v != "" {
						cfg.RPC.Listen = v
					}
				},
				LogOutput: c.App.ErrWriter,
			})
		},
	}
}

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "inspect a node's keys",
		Subcommands: []*cli.Command{{
			Name:  "show",
			Usage: "print the validator's public key and address and the node's peer id (no password needed)",
			Flags: []cli.Flag{homeFlag},
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				info, err := node.ShowKeys(c.String(homeFlag.Name))
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "validator key:     %s\n", info.ValidatorKey)
				fmt.Fprintf(c.App.Writer, "validator address: %s\n", info.ValidatorKey.Address())
				fmt.Fprintf(c.App.Writer, "peer id:           %s\n", info.PeerID)
				return nil
			},
		}},
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintln(c.App.Writer, "synod", versionString())
			return nil
		},
	}
}

// versionString is the module version and VCS revision the binary was
// built from.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v += " (modified)"
			}
		}
	}
	return v + " " + info.GoVersion
}
