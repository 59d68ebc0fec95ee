package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/testnet"
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

// TestOverlapsEphemeral: a testnet's port span is flagged exactly when it
// shares a port with the kernel's ephemeral range, and an unreadable range
// flags nothing.
func TestOverlapsEphemeral(t *testing.T) {
	const linux = "32768\t60999\n"
	cases := []struct {
		lo, hi int
		text   string
		want   bool
	}{
		{26600, 26639, linux, false},
		{34600, 34669, linux, true},
		{32700, 32768, linux, true},
		{60999, 61100, linux, true},
		{61000, 61100, linux, false},
		{34600, 34669, "junk", false},
		{34600, 34669, "40000 30000", false},
	}
	for _, c := range cases {
		elo, ehi, got := overlapsEphemeral(c.lo, c.hi, c.text)
		if got != c.want || (got && (elo != 32768 || ehi != 60999)) {
			t.Errorf("%d..%d against %q: %d..%d %v, want %v", c.lo, c.hi, c.text, elo, ehi, got, c.want)
		}
	}
}

// TestCommandsWithoutArgumentsRefuseThem: init, start, keys show, the
// testnet generator and om simulate take flags only. urfave/cli stops
// reading flags at the first argument, so `synod init DIR --chain-id x`
// would initialise the default home with the default chain id and say
// nothing of the flags it skipped; each refuses a stray argument instead,
// before doing anything.
func TestCommandsWithoutArgumentsRefuseThem(t *testing.T) {
	home := filepath.Join(t.TempDir(), "default-home")
	t.Setenv("SYNOD_HOME", home)
	out := filepath.Join(t.TempDir(), "net")
	for _, args := range [][]string{
		// start before init: without the refusal, start must find no home
		// to run.
		{"start", "mydir", "--om-verify"},
		{"keys", "show", "mydir"},
		{"init", "mydir", "--chain-id", "mine"},
		{"testnet", "--out", out, "extra", "--om-verify"},
		{"om", "simulate", "7", "--m", "2"},
	} {
		_, err := runSynod(t, args...)
		if err == nil || !strings.Contains(err.Error(), "unexpected argument") {
			t.Errorf("%v: %v, want a refusal of the argument", args, err)
		}
	}
	for _, dir := range []string{home, out} {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s was written", dir)
		}
	}
}

// TestPrintStatusNamesAnotherProcess: node 0's pid file is stale and
// another network's node answers at its admin address; the status table
// says so instead of showing that node's height as node 0's.
func TestPrintStatusNamesAnotherProcess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(testnet.NodeStatus{NodeID: "12D3KooWother", PID: 5151, Height: 987654})
	}))
	defer srv.Close()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "node.pid"), []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	net := &testnet.Network{Members: []testnet.Member{{Home: home, Admin: strings.TrimPrefix(srv.URL, "http://"), PeerID: "12D3KooWnode0"}}}
	var out strings.Builder
	printStatus(context.Background(), &out, net, make([]testnet.NodeStatus, 1), time.Second)
	if got := out.String(); strings.Contains(got, "987654") || !strings.Contains(got, "node0  other") || !strings.Contains(got, "12D3KooWother") {
		t.Fatalf("status table:\n%s\nwant node 0 shown as answered by another process (peer 12D3KooWother), without its height", got)
	}
}

// TestTestnetStatusAndWaitCheckTheirFlags: `status --count -1` printed
// nothing and exited 0 (the loop ran while round < -1), and `wait
// --timeout 0s` failed at once with the context's error; each flag is
// now refused by name, before the directory is read.
func TestTestnetStatusAndWaitCheckTheirFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"testnet", "status", "--count", "-1", dir}, "--count -1"},
		{[]string{"testnet", "status", "--interval", "10ms", dir}, "--interval 10ms"},
		{[]string{"testnet", "wait", "--timeout", "0s", dir}, "--timeout 0s"},
		{[]string{"testnet", "wait", "--timeout", "-1m", dir}, "--timeout -1m0s"},
	} {
		_, err := runSynod(t, tc.args...)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error starting %q", tc.args, err, tc.want)
		}
	}
}
