package pbft_test

import (
	"fmt"
	"testing"
)

// BenchmarkEngine measures the engine alone: n replicas with no-op signatures on an in-memory queue with no delay, committing empty blocks; it reports committed blocks per second and messages delivered per committed block (O(n²): PREPARE and COMMIT are all-to-all).
func BenchmarkEngine(b *testing.B) {
	for _, n := range []int{4, 7, 10, 16} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			c := newCluster(b, clusterOpts{n: n, noop: true, k: 16, w: 32})
			b.ResetTimer()
			for c.committedLen(0) < b.N {
				c.tick()
			}
			b.StopTimer()
			blocks := float64(c.committedLen(0))
			b.ReportMetric(blocks/b.Elapsed().Seconds(), "blocks/s")
			b.ReportMetric(float64(c.sent)/blocks, "msgs/block")
		})
	}
}
