// Command synod is the Synod node and its tools: the validator daemon, the
// wallet, the local testnet and the OM(m) simulator. Each command group lives
// in its own file; this file only assembles them.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "synod:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:                 "synod",
		Usage:                "a Byzantine fault tolerant blockchain node",
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			initCommand(),
			startCommand(),
			keysCommand(),
			versionCommand(),
			testnetCommand(),
			omCommand(),
			walletCommand(),
			benchCommand(),
		},
	}
}
