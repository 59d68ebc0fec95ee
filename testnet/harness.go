package testnet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Member is one node of a network.
type Member struct {
	Home   string
	RPC    string // http://127.0.0.1:port
	Admin  string // 127.0.0.1:port
	PeerID string
}

// Network is a set of node homes and the binary that runs them.
type Network struct {
	Binary  string
	Members []Member
	// ExtraArgs are appended to every `synod start`.
	ExtraArgs []string
}

const (
	pidFile = "node.pid"
	logFile = "node.log"
)

// ErrNotRunning is returned for a node with no live process.
var ErrNotRunning = errors.New("testnet: node is not running")

func (n *Network) member(i int) (Member, error) {
	if i < 0 || i >= len(n.Members) {
		return Member{}, fmt.Errorf("testnet: no node %d (have %d)", i, len(n.Members))
	}
	return n.Members[i], nil
}

// Start launches node i in the background, in a process group of its own
// (so a Ctrl-C meant for a script does not reach it), appending to its log
// and recording its PID.
func (n *Network) Start(i int) error {
	m, err := n.member(i)
	if err != nil {
		return err
	}
	if n.Alive(i) {
		return fmt.Errorf("testnet: node %d is already running", i)
	}
	log, err := os.OpenFile(filepath.Join(m.Home, logFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	args := append([]string{"start", "--home", m.Home}, n.ExtraArgs...)
	cmd := exec.Command(n.Binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testnet: start node %d: %w", i, err)
	}
	if err := os.WriteFile(filepath.Join(m.Home, pidFile), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return err
	}
	// Reap the child when it exits, so it does not linger as a zombie that
	// still answers signal 0.
	go func() { _ = cmd.Wait() }()
	return nil
}

// PID is node i's recorded process id.
func (n *Network) PID(i int) (int, error) {
	m, err := n.member(i)
	if err != nil {
		return 0, err
	}
	raw, err := os.ReadFile(filepath.Join(m.Home, pidFile))
	if err != nil {
		return 0, ErrNotRunning
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("testnet: bad pid file for node %d", i)
	}
	return pid, nil
}

// Alive reports whether node i's process exists. A pid file outlives
// its process (a crash, a reboot), and its number may since belong to an
// unrelated process: one whose command line does not run node i's home is
// not node i, so nothing here ever signals it.
func (n *Network) Alive(i int) bool {
	pid, err := n.PID(i)
	if err != nil {
		return false
	}
	return n.isNode(i, pid)
}

// isNode reports whether process pid is running (not exited, not a
// zombie) and runs node i's home.
func (n *Network) isNode(i, pid int) bool {
	m, err := n.member(i)
	if err != nil {
		return false
	}
	return processExists(pid) && !isZombie(pid) && runsHome(pid, m.Home)
}

// openNode returns a handle on node i's process, or ErrNotRunning. The
// handle is opened first and the process checked to be node i after, and
// every signal goes through the handle: on Linux it is a pidfd, naming
// that one process, so a node that exits after the check makes a signal
// fail with os.ErrProcessDone rather than reach a process that took its
// pid since. The caller releases the handle.
func (n *Network) openNode(i int) (*os.Process, error) {
	pid, err := n.PID(i)
	if err != nil {
		return nil, fmt.Errorf("%w: node %d", ErrNotRunning, i)
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil, fmt.Errorf("%w: node %d", ErrNotRunning, i)
	}
	if !n.isNode(i, pid) {
		_ = p.Release()
		return nil, fmt.Errorf("%w: node %d", ErrNotRunning, i)
	}
	return p, nil
}

// runsHome reports whether process pid is `synod start` for home, from
// /proc/PID/cmdline (relative paths resolved against each process's
// working directory). Where /proc cannot say (another system), it trusts
// the pid file.
func runsHome(pid int, home string) bool {
	raw, err := readCmdline(pid)
	if err != nil {
		if _, statErr := os.Stat("/proc/self/cmdline"); statErr != nil {
			return true // no /proc here
		}
		return false
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	var started bool
	var got string
	for k := 1; k < len(args); k++ {
		switch a := args[k]; {
		case a == "start":
			started = true
		case (a == "--home" || a == "-home") && k+1 < len(args):
			got = args[k+1]
			k++
		case strings.HasPrefix(a, "--home="):
			got = strings.TrimPrefix(a, "--home=")
		}
	}
	if !started || got == "" {
		return false
	}
	if !filepath.IsAbs(got) {
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err != nil {
			return false
		}
		got = filepath.Join(cwd, got)
	}
	want, err := filepath.Abs(home)
	if err != nil {
		return false
	}
	return samePath(got, want)
}

// cmdlineWaitMax bounds how long readCmdline waits for a process in the
// middle of exec to show its command line.
const cmdlineWaitMax = 200 * time.Millisecond

// readCmdline reads /proc/PID/cmdline. A process in the middle of exec
// shows an empty one for a moment (its new memory is not mapped yet), and
// the tools look at a node straight after starting it, so an empty
// command line is read again for up to cmdlineWaitMax.
func readCmdline(pid int) ([]byte, error) {
	path := fmt.Sprintf("/proc/%d/cmdline", pid)
	deadline := time.Now().Add(cmdlineWaitMax)
	for {
		raw, err := os.ReadFile(path)
		if err != nil || len(raw) > 0 || time.Now().After(deadline) {
			return raw, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// samePath compares two absolute paths after resolving symbolic links
// (either may not exist any more; then they are compared as written).
func samePath(a, b string) bool {
	if ra, err := filepath.EvalSymlinks(a); err == nil {
		a = ra
	}
	if rb, err := filepath.EvalSymlinks(b); err == nil {
		b = rb
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

func isZombie(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state is the field after the parenthesised command name.
	s := string(raw)
	if j := strings.LastIndexByte(s, ')'); j >= 0 && j+2 < len(s) {
		return s[j+2] == 'Z'
	}
	return false
}

// nodeSignal is what the harness can do to a node's process; signalProcess
// (harness_unix.go, harness_other.go) maps it to the platform.
type nodeSignal int

const (
	sigKill nodeSignal = iota // SIGKILL: a crash, nothing flushed
	sigStop                   // SIGSTOP: frozen, sockets open
	sigCont                   // SIGCONT: running again
	sigTerm                   // SIGTERM: a graceful shutdown
)

// testHookBeforeSignal runs before each signal to a node; a test makes
// the node exit there, in the window between the check and the signal.
var testHookBeforeSignal = func(nodeSignal) {}

// signalNode sends sig to p. A process that has exited since p was
// opened reports exited, not an error.
func signalNode(p *os.Process, sig nodeSignal) (exited bool, err error) {
	testHookBeforeSignal(sig)
	err = signalProcess(p, sig)
	if errors.Is(err, os.ErrProcessDone) {
		return true, nil
	}
	return false, err
}

func (n *Network) signal(i int, sig nodeSignal) error {
	p, err := n.openNode(i)
	if err != nil {
		return err
	}
	defer p.Release()
	exited, err := signalNode(p, sig)
	if exited {
		return fmt.Errorf("%w: node %d exited", ErrNotRunning, i)
	}
	if err != nil {
		return fmt.Errorf("testnet: signal node %d: %w", i, err)
	}
	return nil
}

// Kill sends SIGKILL to node i: a crash, nothing flushed.
func (n *Network) Kill(i int) error { return n.signal(i, sigKill) }

// Pause stops node i with SIGSTOP; Resume continues it.
func (n *Network) Pause(i int) error  { return n.signal(i, sigStop) }
func (n *Network) Resume(i int) error { return n.signal(i, sigCont) }

// Stop asks node i to shut down (SIGTERM, after SIGCONT in case it is
// paused) and waits up to timeout, then kills it. A node that is not
// running, or that exits before one of these signals reaches it, is
// stopped, which is what was asked: Stop then returns nil, not
// ErrNotRunning.
func (n *Network) Stop(i int, timeout time.Duration) error {
	p, err := n.openNode(i)
	if err != nil {
		return nil // not running
	}
	defer p.Release()
	if exited, _ := signalNode(p, sigCont); exited {
		return nil
	}
	if exited, err := signalNode(p, sigTerm); exited {
		return nil
	} else if err != nil {
		return fmt.Errorf("testnet: stop node %d: %w", i, err)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !n.isNode(i, p.Pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := signalNode(p, sigKill); err != nil {
		return fmt.Errorf("testnet: kill node %d: %w", i, err)
	}
	return nil
}

// StopAll stops every running node.
func (n *Network) StopAll(timeout time.Duration) error {
	var errs []error
	for i := range n.Members {
		if err := n.Stop(i, timeout); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Partition splits the network into groups: each node may reach only the
// nodes of its own group. Nodes in no group are cut off from everyone.
func (n *Network) Partition(ctx context.Context, groups [][]int) error {
	groupOf := make(map[int]int)
	for g, members := range groups {
		for _, i := range members {
			if _, err := n.member(i); err != nil {
				return err
			}
			if _, dup := groupOf[i]; dup {
				return fmt.Errorf("testnet: node %d in two groups", i)
			}
			groupOf[i] = g
		}
	}
	for i, m := range n.Members {
		var allow []string
		if g, ok := groupOf[i]; ok {
			for _, j := range groups[g] {
				if j != i {
					allow = append(allow, n.Members[j].PeerID)
				}
			}
		}
		if err := adminPost(ctx, m.Admin, "/admin/partition?allow="+url.QueryEscape(strings.Join(allow, ","))); err != nil {
			// Leave no half-applied partition behind: lift it from the
			// nodes already cut off (a node just restarted may not answer
			// yet), and say whether that worked.
			if healErr := n.heal(ctx, i); healErr != nil {
				return fmt.Errorf("partition node %d: %w (and undoing it failed: %w)", i, err, healErr)
			}
			if i == 0 {
				return fmt.Errorf("partition node 0: %w (no node was cut off)", err)
			}
			return fmt.Errorf("partition node %d: %w (nodes 0..%d, already cut off, were healed again)", i, err, i-1)
		}
	}
	return nil
}

// Heal lifts every partition.
func (n *Network) Heal(ctx context.Context) error { return n.heal(ctx, len(n.Members)) }

// heal lifts the partition of nodes 0..upTo-1.
func (n *Network) heal(ctx context.Context, upTo int) error {
	var errs []error
	for i, m := range n.Members[:upTo] {
		if err := adminPost(ctx, m.Admin, "/admin/heal"); err != nil {
			errs = append(errs, fmt.Errorf("heal node %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func adminPost(ctx context.Context, addr, path string) error {
	if addr == "" {
		return errors.New("node has no admin endpoint")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin %s: %s", path, resp.Status)
	}
	return nil
}

// ParseGroups parses "0,1|2,3" into [[0 1] [2 3]].
func ParseGroups(s string) ([][]int, error) {
	var groups [][]int
	for _, part := range strings.Split(s, "|") {
		var g []int
		for _, f := range strings.Split(part, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			i, err := strconv.Atoi(strings.TrimPrefix(f, "node"))
			if err != nil {
				return nil, fmt.Errorf("testnet: bad node %q in %q", f, s)
			}
			g = append(g, i)
		}
		if len(g) > 0 {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("testnet: no groups in %q", s)
	}
	return groups, nil
}
