package testnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synod-chain/synod/testnet"
)

// nodeHome makes node 0's home for the stand-in tests, skipping them
// where there is no /proc to read command lines from.
func nodeHome(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no /proc: pid files are trusted as they are")
	}
	home := filepath.Join(t.TempDir(), "node0")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return home
}

// standIn starts a process whose command line reads `start --home
// forHome` and writes its pid into home's pid file, as if it were the
// node there; it is killed when the test ends. "sleep 30; :" keeps sh
// from exec'ing sleep, so the command line stays.
func standIn(t *testing.T, home, forHome string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 30; :", "start", "--home", forHome)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := os.WriteFile(filepath.Join(home, "node.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestWaitHeightKnowsItsNodes runs node 0 as a stand-in process with a
// fake admin endpoint: WaitHeight succeeds when the endpoint answers with
// the process's pid, fails at once with ErrNotThisNode when it answers
// with another (another network on the same ports), and with
// ErrNotRunning once the process has exited, instead of waiting out its
// deadline.
func TestWaitHeightKnowsItsNodes(t *testing.T) {
	home := nodeHome(t)
	cmd := standIn(t, home, home)
	var answerPID atomic.Int64 // the pid the fake admin endpoint reports
	answerPID.Store(int64(cmd.Process.Pid))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(testnet.NodeStatus{Height: 5, PID: int(answerPID.Load())})
	}))
	defer srv.Close()
	net := &testnet.Network{Members: []testnet.Member{{Home: home, Admin: strings.TrimPrefix(srv.URL, "http://")}}}
	// "At once" is told without a clock: the wait must return while its
	// context is still live, long before a deadline no healthy run nears.
	wait := func() (ctxDone bool, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err = net.WaitHeight(ctx, 3, nil)
		return ctx.Err() != nil, err
	}

	if _, err := wait(); err != nil {
		t.Fatalf("node 0 at height 5, its own pid answering: %v", err)
	}
	answerPID.Store(int64(os.Getpid()))
	if waitedOut, err := wait(); !errors.Is(err, testnet.ErrNotThisNode) || waitedOut {
		t.Fatalf("another process answering: %v (waited out the deadline: %v), want ErrNotThisNode at once", err, waitedOut)
	}
	answerPID.Store(int64(cmd.Process.Pid))
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if waitedOut, err := wait(); !errors.Is(err, testnet.ErrNotRunning) || waitedOut {
		t.Fatalf("node 0 exited: %v (waited out the deadline: %v), want ErrNotRunning at once", err, waitedOut)
	}
}

// TestPartitionUndoesAHalfApplied cuts node 0 off, then fails to reach
// node 1 (down, as a node just restarted may be): Partition must lift
// node 0's cut again rather than leave half a partition in place, and say
// it did.
func TestPartitionUndoesAHalfApplied(t *testing.T) {
	var calls []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.URL.Path)
	}))
	defer up.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := strings.TrimPrefix(down.URL, "http://")
	down.Close() // its port now refuses connections
	net := &testnet.Network{Members: []testnet.Member{
		{Admin: strings.TrimPrefix(up.URL, "http://"), PeerID: "peer0"},
		{Admin: downAddr, PeerID: "peer1"},
	}}
	err := net.Partition(context.Background(), [][]int{{0}, {1}})
	if err == nil || !strings.Contains(err.Error(), "healed again") {
		t.Fatalf("Partition with node 1 down: %v, want an error saying node 0 was healed again", err)
	}
	if want := []string{"/admin/partition", "/admin/heal"}; strings.Join(calls, " ") != strings.Join(want, " ") {
		t.Fatalf("node 0 received %v, want %v", calls, want)
	}
}
