//go:build !unix

package testnet

import (
	"errors"
	"os"
	"os/exec"
)

// errNoSignals: pausing a process needs POSIX signals.
var errNoSignals = errors.New("testnet: pause and resume need POSIX signals (SIGSTOP, SIGCONT), which this platform lacks")

func ownProcessGroup(*exec.Cmd) {}

// processExists reports whether pid names a process: finding one opens
// it on Windows, and fails for a process that has exited.
func processExists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}

// signalProcess kills for both a crash and a shutdown: without SIGTERM a
// node is stopped the way a crash stops it, which its store and
// consensus log survive. It fails with os.ErrProcessDone once p has
// exited.
func signalProcess(p *os.Process, sig nodeSignal) error {
	switch sig {
	case sigKill, sigTerm:
		return p.Kill()
	case sigCont:
		return nil // nothing is ever paused here
	default:
		return errNoSignals
	}
}
