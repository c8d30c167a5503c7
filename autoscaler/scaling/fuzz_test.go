package scaling

import (
	"testing"
	"time"
)

// FuzzParseCron checks that any expression either fails to parse or
// yields a Prev at or before, and a Next after, the reference time.
func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"0 8 * * 1-5", "*/15 * * * *", "0 0 29 2 *", "5/10 1-3 * jan-mar mon,fri", "0 12 13 * 5"} {
		f.Add(s)
	}
	ref := time.Date(2026, 3, 2, 12, 34, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		c, err := ParseCron(expr)
		if err != nil {
			return
		}
		if p, ok := c.Prev(ref, time.UTC); ok && p.After(ref) {
			t.Errorf("%q: Prev %s after %s", expr, p, ref)
		}
		if n, ok := c.Next(ref, time.UTC); ok && !n.After(ref) {
			t.Errorf("%q: Next %s not after %s", expr, n, ref)
		}
	})
}
