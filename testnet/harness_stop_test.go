//go:build unix

package testnet

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// exitingNode runs a stand-in for node 0 of a one-node network: a shell
// whose command line reads `start --home HOME`, that ignores SIGTERM (as
// a node slow to shut down would) and exits when its stdin closes. exit
// closes it and reaps the shell, so the process is gone, not a zombie.
func exitingNode(t *testing.T) (net *Network, exit func()) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "node0")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `trap "" TERM; echo ready; read line; :`, "start", "--home", home)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	exit = func() {
		if !exited {
			exited = true
			_ = stdin.Close()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); exit() })
	// Once it says ready, its trap is set: a SIGTERM cannot end it.
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("stand-in node: %q, %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if err := os.WriteFile(filepath.Join(home, pidFile), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	net = &Network{Members: []Member{{Home: home}}}
	if !net.Alive(0) {
		t.Fatal("the stand-in does not count as node 0")
	}
	return net, exit
}

// TestStopNodeExitingOnTheWay makes node 0 exit after Stop found it
// running and before each of Stop's signals reaches it (SIGCONT, SIGTERM,
// and the SIGKILL once the timeout, here zero, has passed): Stop succeeds,
// the node being stopped, instead of reporting ErrNotRunning or "no such
// process". Kill on a node that exits the same way reports ErrNotRunning.
func TestStopNodeExitingOnTheWay(t *testing.T) {
	t.Cleanup(func() { testHookBeforeSignal = func(nodeSignal) {} })
	exitBefore := func(exit func(), target nodeSignal) *bool {
		fired := new(bool)
		testHookBeforeSignal = func(sig nodeSignal) {
			if sig == target && !*fired {
				*fired = true
				exit()
			}
		}
		return fired
	}
	for _, tc := range []struct {
		name string
		sig  nodeSignal
	}{{"SIGCONT", sigCont}, {"SIGTERM", sigTerm}, {"SIGKILL", sigKill}} {
		net, exit := exitingNode(t)
		fired := exitBefore(exit, tc.sig)
		if err := net.Stop(0, 0); err != nil {
			t.Errorf("node exiting before %s: Stop = %v, want nil", tc.name, err)
		}
		if !*fired {
			t.Errorf("Stop never sent %s", tc.name)
		}
	}

	net, exit := exitingNode(t)
	fired := exitBefore(exit, sigKill)
	if err := net.Kill(0); !errors.Is(err, ErrNotRunning) || !*fired {
		t.Errorf("node exiting before Kill's signal: Kill = %v (hook ran: %v), want ErrNotRunning", err, *fired)
	}
}
