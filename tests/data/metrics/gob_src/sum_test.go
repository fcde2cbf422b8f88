package gob

import (
	"fmt"
	"testing"
)

func BenchmarkSum(b *testing.B) {
	xs := make([]int, 1000)
	b.SetBytes(int64(len(xs) * 8))
	for i := 0; i < b.N; i++ {
		Sum(xs)
	}
}

func BenchmarkBox(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Box(64)
	}
}

func BenchmarkSizes(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			xs := make([]int, n)
			for i := 0; i < b.N; i++ {
				Sum(xs)
			}
			b.ReportMetric(float64(n), "items/op")
		})
	}
}
