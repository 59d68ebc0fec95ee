package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestUsageErrorsAreOneLine: a flag the parser refuses (unknown, or a
// value of the wrong type) gives one line naming the flag and pointing
// at --help, and prints nothing on stdout: the whole help text there
// would land in a report a script redirects (`synod bench … >run.txt`).
func TestUsageErrorsAreOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "-bogus"},
		{[]string{"bench", "--rate", "fast"}, "-rate"},
		{[]string{"bench", "--bogus"}, "-bogus"},
		{[]string{"wallet", "send", "--wait.timeout", "soon"}, "-wait.timeout"},
		{[]string{"testnet", "status", "--count", "x", "DIR"}, "-count"},
		{[]string{"om", "simulate", "--n", "four"}, "-n"},
		{[]string{"testnet", "fault", "byzantine", "DIR", "0"}, "--mode is required"},
	} {
		app := newApp()
		var out, errOut bytes.Buffer
		app.Writer, app.ErrWriter = &out, &errOut
		err := app.Run(append([]string{"synod"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--help") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %q, want one line naming %s and pointing at --help", tc.args, err, tc.want)
		}
		if out.Len() != 0 || errOut.Len() != 0 {
			t.Errorf("%v printed %d bytes on stdout and %d on stderr, want only the error", tc.args, out.Len(), errOut.Len())
		}
	}
}
