package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/node"
	"github.com/synod-chain/synod/p2p"
)

// Flags of the node commands, geth-style: package variables with dotted
// names, a category and an environment mirror.
var (
	homeFlag = &cli.StringFlag{
		Name: "home", Usage: "node home directory (config.toml, genesis.json, keys/, data/)",
		EnvVars: []string{"SYNOD_HOME"}, Value: defaultHome(), Category: "NODE",
	}
	monikerFlag = &cli.StringFlag{
		Name: "moniker", Usage: "human-readable node name", Category: "NODE", Required: true,
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
		Usage: "create a node home: config.toml and encrypted validator and node keys",
		Description: `The password comes from --password-file; it is also copied to
HOME/keys/password.txt (mode 0600) unless that flag points there already,
so 'synod start' can run unattended. Add genesis.json to the home before
starting (the testnet generator does all of this for a local network).`,
		Flags: []cli.Flag{homeFlag, monikerFlag, nodePasswordFileFlag},
		Action: func(c *cli.Context) error {
			home := c.String(homeFlag.Name)
			pwFile := c.String(nodePasswordFileFlag.Name)
			if pwFile == "" {
				return errors.New("--password-file is required for init")
			}
			password, err := node.ReadPasswordFile(pwFile)
			if err != nil {
				return err
			}
			keys, err := node.InitHome(home, node.DefaultConfig(c.String(monikerFlag.Name)), password, crypto.DefaultKDFParams(), rand.Reader)
			if err != nil {
				return err
			}
			peerID, err := p2p.PeerIDFromKey(keys.Node.Public())
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "home:              %s\n", home)
			fmt.Fprintf(c.App.Writer, "validator key:     %s\n", keys.Validator.Public())
			fmt.Fprintf(c.App.Writer, "validator address: %s\n", keys.Validator.Public().Address())
			fmt.Fprintf(c.App.Writer, "peer id:           %s\n", peerID)
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
