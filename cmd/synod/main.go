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
	app := &cli.App{
		Name:                 "synod",
		Usage:                "a Byzantine fault tolerant blockchain node",
		EnableBashCompletion: true,
		OnUsageError:         oneLineUsageError("synod"),
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
	setOneLineUsageErrors(app.Commands, "synod")
	return app
}

// setOneLineUsageErrors gives every command under path the one-line
// usage error of oneLineUsageError.
func setOneLineUsageErrors(cmds []*cli.Command, path string) {
	for _, c := range cmds {
		name := path + " " + c.Name
		c.OnUsageError = oneLineUsageError(name)
		setOneLineUsageErrors(c.Subcommands, name)
	}
}

// oneLineUsageError turns a flag the parser refused into one line naming
// it and the command's help (main prints it on stderr). urfave/cli would
// print the whole help text on stdout first, where it lands in whatever
// a script redirects there (a bench report).
func oneLineUsageError(command string) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		return fmt.Errorf("%w (see '%s --help')", err, command)
	}
}
