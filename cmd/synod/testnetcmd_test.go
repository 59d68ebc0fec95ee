package main

import (
	"strings"
	"testing"
)

// TestTestnetCommandsCheckTheirArguments: a flag after DIR is refused
// with a hint (it is not parsed as a flag, so `wait DIR --height 9` would
// otherwise wait for the default height and succeed), and a wrong number
// of arguments is refused, before the directory is read.
func TestTestnetCommandsCheckTheirArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"testnet", "wait", dir, "--height", "9"}, "flag --height after the arguments: flags go before DIR"},
		{[]string{"testnet", "stop"}, "want arguments DIR, got 0"},
		{[]string{"testnet", "fault", "kill", dir}, "want arguments DIR NODE, got 1"},
		{[]string{"testnet", "url", dir, "0", "extra"}, "want arguments DIR I, got 3"},
	} {
		_, err := runSynod(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
