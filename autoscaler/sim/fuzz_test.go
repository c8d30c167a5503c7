package sim

import (
	"strings"
	"testing"
)

// FuzzParseTrace checks that a trace either fails with a located error or
// parses into a regular, non-negative series.
func FuzzParseTrace(f *testing.F) {
	f.Add("time,requests\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n")
	f.Add("time,requests\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n2026-01-01T00:05:00Z,9\n")
	f.Add("time,requests\n2026-01-01T00:01:00Z,1\n2026-01-01T00:00:00Z,2\n")
	f.Fuzz(func(t *testing.T, csv string) {
		tr, err := ParseTrace("f.csv", strings.NewReader(csv))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if tr.Step <= 0 || tr.Len() < 2 {
			t.Errorf("trace step %s len %d", tr.Step, tr.Len())
		}
		for _, r := range tr.Requests {
			if !(r >= 0) {
				t.Fatalf("negative or NaN count %g", r)
			}
		}
	})
}
