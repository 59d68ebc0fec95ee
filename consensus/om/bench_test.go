package om

import (
	"fmt"
	"testing"
)

// BenchmarkInteractive measures one interactive-consistency run (n OM(m)
// instances, m = f = (n-1)/3, everyone loyal, digest-sized values): the cost
// of one --om-verify checkpoint across the whole simulated network.
func BenchmarkInteractive(b *testing.B) {
	for _, n := range []int{4, 7, 10} {
		m := (n - 1) / 3
		b.Run(fmt.Sprintf("n=%d/m=%d", n, m), func(b *testing.B) {
			w, err := NewVectorNetwork(n, m)
			if err != nil {
				b.Fatal(err)
			}
			values := make([][]byte, n)
			for i := range values {
				values[i] = digestValue(byte(i))
			}
			strategies := make([]Strategy, n)
			var res VectorResult
			b.ReportAllocs()
			for b.Loop() {
				res, err = w.Run(values, strategies)
				if err != nil || !res.IC1 || !res.IC2 {
					b.Fatalf("run failed: %v %+v", err, res)
				}
			}
			b.ReportMetric(float64(res.Messages), "msgs/run")
			b.ReportMetric(float64(res.Messages)/float64(n), "msgs/node")
		})
	}
}

// BenchmarkInstance measures one OM(m) instance with two random traitors,
// the inner loop of the sampled n=7, m=2 test.
func BenchmarkInstance(b *testing.B) {
	w, err := NewNetwork(7, 2, 0)
	if err != nil {
		b.Fatal(err)
	}
	strategies := make([]Strategy, 7)
	strategies[0] = Lie{}
	strategies[4] = Silent{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Run(attack, strategies); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode measures decoding one relayed message with a digest.
func BenchmarkDecode(b *testing.B) {
	buf := Message{Instance: 42, From: 2, To: 5, Path: []NodeID{0, 1, 2}, Value: digestValue(4)}.AppendEncode(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}
