//go:build unix

package testnet_test

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/synod-chain/synod/testnet"
)

// Tests that signal processes directly (POSIX signals), beside the
// stand-in helpers of harness_test.go.

// TestStopSparesForeignProcess points node 0's pid file at a process
// that is not that node (as a stale pid file may after a reboot) and at
// one that runs `start --home` for that node's home: only the second
// counts as the node, and only it is signalled by Stop.
func TestStopSparesForeignProcess(t *testing.T) {
	home := nodeHome(t)
	net := &testnet.Network{Members: []testnet.Member{{Home: home}}}
	exited := func(cmd *exec.Cmd) bool {
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
			return true
		case <-time.After(2 * time.Second):
			return false
		}
	}

	foreign := standIn(t, home, home+"-other")
	if net.Alive(0) {
		t.Fatal("a process for another home counts as node 0")
	}
	if err := net.Stop(0, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(foreign.Process.Pid, 0); err != nil {
		t.Fatalf("Stop signalled a process that is not node 0: %v", err)
	}

	own := standIn(t, home, home)
	if !net.Alive(0) {
		t.Fatal("the process running node 0's home does not count as node 0")
	}
	if err := net.Stop(0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !exited(own) {
		t.Fatal("Stop left node 0's process running")
	}
}
