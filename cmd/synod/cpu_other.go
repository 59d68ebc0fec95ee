//go:build !unix

package main

import "time"

// processCPU: this platform has no getrusage, so the bench report leaves
// the generator's CPU out (see cpu_unix.go).
func processCPU() time.Duration { return 0 }
