//go:build unix

package testnet

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup starts a node in a process group of its own, so a
// signal to the group of the command that started it (a terminal's
// Ctrl-C) does not reach the node: the harness stops nodes itself, by PID.
func ownProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// processExists reports whether pid names a process (signal 0).
func processExists(pid int) bool { return syscall.Kill(pid, 0) == nil }

// posixSignals maps the harness's signals to the kernel's.
var posixSignals = [...]syscall.Signal{sigKill: syscall.SIGKILL, sigStop: syscall.SIGSTOP, sigCont: syscall.SIGCONT, sigTerm: syscall.SIGTERM}

// signalProcess signals p; it fails with os.ErrProcessDone once p has
// exited.
func signalProcess(p *os.Process, sig nodeSignal) error { return p.Signal(posixSignals[sig]) }
