//go:build !unix

package node

import (
	"testing"
	"time"
)

// processCPU: without getrusage there is no CPU time to report, and the
// benchmarks that compare builds by it skip (see cpu_unix_test.go).
func processCPU(tb testing.TB) time.Duration {
	tb.Skip("process CPU time needs getrusage (Unix)")
	return 0
}
