package testnet_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/synod-chain/synod/testnet"
)

// TestStopSparesForeignProcess points node 0's pid file at a process
// that is not that node (as a stale pid file may after a reboot) and at
// one that runs `start --home` for that node's home: only the second
// counts as the node, and only it is signalled by Stop.
func TestStopSparesForeignProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no /proc: pid files are trusted as they are")
	}
	home := filepath.Join(t.TempDir(), "node0")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	net := &testnet.Network{Members: []testnet.Member{{Home: home}}}
	spawn := func(args ...string) *exec.Cmd {
		cmd := exec.Command("sh", args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if err := os.WriteFile(filepath.Join(home, "node.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
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

	// "sleep 30; :" keeps sh from exec'ing sleep, so its command line stays.
	foreign := spawn("-c", "sleep 30; :", "start", "--home", home+"-other")
	if net.Alive(0) {
		t.Fatal("a process for another home counts as node 0")
	}
	if err := net.Stop(0, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(foreign.Process.Pid, 0); err != nil {
		t.Fatalf("Stop signalled a process that is not node 0: %v", err)
	}

	own := spawn("-c", "sleep 30; :", "start", "--home", home)
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
