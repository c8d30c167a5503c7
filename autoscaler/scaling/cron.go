package scaling

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed 5-field cron expression (minute hour day-of-month
// month day-of-week), as AWS scheduled actions take: numbers, *, lists,
// ranges, steps (*/15, 1-5/2), month and weekday names (jan, mon), and 7
// for Sunday. When both day fields are restricted a day matches either
// (Vixie cron semantics).
type Cron struct {
	expr                   string
	minute, hour, dom, dow uint64
	month                  uint64
	domStar, dowStar       bool
}

// String returns the expression as parsed.
func (c *Cron) String() string { return c.expr }

var (
	monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	dayNames   = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
)

// ParseCron parses a 5-field cron expression.
func ParseCron(expr string) (*Cron, error) {
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", expr, len(f))
	}
	c := &Cron{expr: expr}
	var err error
	fields := []struct {
		name   string
		dst    *uint64
		lo, hi int
		names  map[string]int
		star   *bool
	}{
		{"minute", &c.minute, 0, 59, nil, nil},
		{"hour", &c.hour, 0, 23, nil, nil},
		{"day-of-month", &c.dom, 1, 31, nil, &c.domStar},
		{"month", &c.month, 1, 12, monthNames, nil},
		{"day-of-week", &c.dow, 0, 7, dayNames, &c.dowStar},
	}
	for i, fd := range fields {
		*fd.dst, err = parseField(f[i], fd.lo, fd.hi, fd.names)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %s: %w", expr, fd.name, err)
		}
		if fd.star != nil {
			*fd.star = f[i] == "*" || f[i] == "?"
		}
	}
	if c.dow&(1<<7) != 0 { // 7 is Sunday too
		c.dow |= 1
	}
	return c, nil
}

func parseField(s string, lo, hi int, names map[string]int) (uint64, error) {
	var bits uint64
	for part := range strings.SplitSeq(s, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("invalid step %q", stepStr)
			}
			step = n
		}
		a, b := lo, hi
		switch {
		case rng == "*" || rng == "?":
		default:
			x, y, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = value(x, lo, hi, names); err != nil {
				return 0, err
			}
			b = a
			if isRange {
				if b, err = value(y, lo, hi, names); err != nil {
					return 0, err
				}
				if b < a {
					return 0, fmt.Errorf("range %q: end before start", rng)
				}
			} else if hasStep {
				b = hi // "5/15" means from 5 every 15
			}
		}
		for v := a; v <= b; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("value %d out of range %d-%d", v, lo, hi)
	}
	return v, nil
}

func (c *Cron) dayMatches(t time.Time) bool {
	if c.month&(1<<uint(t.Month())) == 0 {
		return false
	}
	d := c.dom&(1<<uint(t.Day())) != 0
	w := c.dow&(1<<uint(t.Weekday())) != 0
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return w
	case c.dowStar:
		return d
	}
	return d || w
}

// Prev returns the latest time at or before t, in loc's wall clock, that
// the expression matches, looking back at most about four years (enough
// for 29 February); ok is false if there is none.
func (c *Cron) Prev(t time.Time, loc *time.Location) (time.Time, bool) {
	lt := t.In(loc)
	y, mo, d := lt.Date()
	for off := 0; off < 4*366+1; off++ {
		day := time.Date(y, mo, d-off, 12, 0, 0, 0, loc)
		if !c.dayMatches(day) {
			continue
		}
		hStart := 23
		if off == 0 {
			hStart = lt.Hour()
		}
		for h := hStart; h >= 0; h-- {
			if c.hour&(1<<uint(h)) == 0 {
				continue
			}
			m := 59
			if off == 0 && h == lt.Hour() {
				m = lt.Minute()
			}
			for ; m >= 0; m-- {
				if c.minute&(1<<uint(m)) != 0 {
					dy, dm, dd := day.Date()
					r := time.Date(dy, dm, dd, h, m, 0, 0, loc)
					if r.After(t) { // a DST shift moved it past t
						continue
					}
					return r, true
				}
			}
		}
	}
	return time.Time{}, false
}

// Next returns the earliest time after t that the expression matches.
func (c *Cron) Next(t time.Time, loc *time.Location) (time.Time, bool) {
	lt := t.In(loc)
	y, mo, d := lt.Date()
	for off := 0; off < 4*366+1; off++ {
		day := time.Date(y, mo, d+off, 12, 0, 0, 0, loc)
		if !c.dayMatches(day) {
			continue
		}
		for h := 0; h < 24; h++ {
			if c.hour&(1<<uint(h)) == 0 {
				continue
			}
			for m := 0; m < 60; m++ {
				if c.minute&(1<<uint(m)) == 0 {
					continue
				}
				dy, dm, dd := day.Date()
				if r := time.Date(dy, dm, dd, h, m, 0, 0, loc); r.After(t) {
					return r, true
				}
			}
		}
	}
	return time.Time{}, false
}
