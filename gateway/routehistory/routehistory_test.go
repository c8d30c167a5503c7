package routehistory

import (
	"math"
	"testing"
)

func TestQuantileInterpolatesLikePrometheus(t *testing.T) {
	bounds := []float64{0.1, 0.2, 0.4, math.Inf(1)}
	for _, tc := range []struct {
		q    float64
		cum  []uint64
		want float64
	}{
		{0.5, []uint64{0, 0, 0, 0}, 0},
		{0.5, []uint64{10, 10, 10, 10}, 0.05},      // all in the first bucket: from 0
		{0.5, []uint64{0, 10, 10, 10}, 0.15},       // middle of (0.1, 0.2]
		{0.99, []uint64{0, 0, 100, 100}, 0.398},    // near the top of (0.2, 0.4]
		{0.99, []uint64{0, 0, 50, 100}, 0.4},       // in +Inf: the largest finite bound
		{0.25, []uint64{10, 20, 40, 40}, 0.1},      // exactly at a bucket's top
		{0.75, []uint64{10, 20, 40, 40}, 0.3},      // half way into (0.2, 0.4]
		{1.00, []uint64{10, 20, 40, 40}, 0.4},      // the maximum
		{0.10, []uint64{0, 0, 0, 5}, 0.4},          // everything beyond the buckets
		{0.50, []uint64{4, 4, 4, 4}, 0.05},         // small counts
		{0.50, []uint64{1, 1, 1, 1}, 0.05},         // one observation
		{0.99, []uint64{99, 100, 100, 100}, 0.1},   // the 99th of 100 is in the first bucket
		{0.995, []uint64{99, 100, 100, 100}, 0.15}, // half of the second bucket
	} {
		if got := quantile(tc.q, bounds, tc.cum); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("quantile(%v, %v) = %v, want %v", tc.q, tc.cum, got, tc.want)
		}
	}
}
