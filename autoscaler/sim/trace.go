// Package sim backtests autoscaling policies: it replays a request-rate
// trace through the decision core (autoscaler/scaling) against a simulated
// group with launch delay, warm-up and capacity per instance, and scores
// the result with the SPEC RG elasticity metrics, next to a reactive
// target-tracking baseline and an oracle with perfect foresight.
package sim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Trace is a regular request-count series.
type Trace struct {
	Start    time.Time
	Step     time.Duration
	Requests []float64 // requests in each Step, from Start
	// Filled counts the intervals that were missing from the file and
	// filled by interpolation (see MaxGap).
	Filled int
}

// Rate returns the demand of interval i in requests per second.
func (t *Trace) Rate(i int) float64 { return t.Requests[i] / t.Step.Seconds() }

// Len is the number of intervals.
func (t *Trace) Len() int { return len(t.Requests) }

// End is the end of the last interval.
func (t *Trace) End() time.Time { return t.Start.Add(time.Duration(len(t.Requests)) * t.Step) }

// MaxGap is the gap-filling rule: up to MaxGap consecutive missing
// intervals are filled by linear interpolation between the rows around
// them (the WorldCup98 trace lacks a few minutes); a longer gap is an
// error naming the line after it.
const MaxGap = 10

// LoadTrace reads a trace file (see ParseTrace).
func LoadTrace(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseTrace(path, f)
}

// ParseTrace parses a CSV trace: a header "time,requests", then one row
// per interval with an RFC 3339 time and a non-negative request count.
// The interval is the difference between the first two rows; rows must be
// strictly increasing, on that grid, with gaps of at most MaxGap intervals
// (filled as documented at MaxGap). Blank lines and lines starting with #
// are ignored. Errors name the file and line.
func ParseTrace(name string, r io.Reader) (*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	t := &Trace{}
	line := 0
	header := false
	var prev time.Time
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !header {
			if strings.ReplaceAll(strings.ToLower(text), " ", "") != "time,requests" {
				return nil, errf("want header \"time,requests\", got %q", text)
			}
			header = true
			continue
		}
		ts, cnt, ok := strings.Cut(text, ",")
		if !ok || strings.Contains(cnt, ",") {
			return nil, errf("want 2 fields \"time,requests\", got %q", text)
		}
		at, err := time.Parse(time.RFC3339, strings.TrimSpace(ts))
		if err != nil {
			return nil, errf("invalid time %q: want RFC 3339", ts)
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(cnt), 64)
		if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			return nil, errf("invalid request count %q: want a non-negative number", cnt)
		}
		switch len(t.Requests) {
		case 0:
			t.Start = at
		case 1:
			if !at.After(prev) {
				return nil, errf("time %s is not after the previous row's %s (rows must be sorted, without duplicates)", ts, prev.Format(time.RFC3339))
			}
			t.Step = at.Sub(prev)
		default:
			d := at.Sub(prev)
			switch {
			case d == 0:
				return nil, errf("duplicate time %s", ts)
			case d < 0:
				return nil, errf("time %s is before the previous row's %s (rows must be sorted)", ts, prev.Format(time.RFC3339))
			case d%t.Step != 0:
				return nil, errf("time %s is off the %s grid started at %s", ts, t.Step, t.Start.Format(time.RFC3339))
			case d > t.Step:
				missing := int(d/t.Step) - 1
				if missing > MaxGap {
					return nil, errf("gap of %d missing intervals before %s (at most %d are interpolated)", missing, ts, MaxGap)
				}
				last := t.Requests[len(t.Requests)-1]
				for k := 1; k <= missing; k++ {
					t.Requests = append(t.Requests, last+(n-last)*float64(k)/float64(missing+1))
				}
				t.Filled += missing
			}
		}
		t.Requests = append(t.Requests, n)
		prev = at
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if !header {
		return nil, fmt.Errorf("%s: empty trace: want a header \"time,requests\" and rows", name)
	}
	if len(t.Requests) < 2 {
		return nil, fmt.Errorf("%s: want at least 2 rows, got %d", name, len(t.Requests))
	}
	return t, nil
}
