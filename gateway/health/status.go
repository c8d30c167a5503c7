package health

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusRanges is a set of HTTP status codes, written as a comma-separated
// list of codes and ranges: "200", "200-299,304".
type StatusRanges []StatusRange

// Contains reports whether code is in the set.
func (s StatusRanges) Contains(code int) bool {
	for _, r := range s {
		if r[0] <= code && code <= r[1] {
			return true
		}
	}
	return false
}

// String returns the set in the form UnmarshalText reads.
func (s StatusRanges) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = strconv.Itoa(r[0])
		if r[1] != r[0] {
			parts[i] += "-" + strconv.Itoa(r[1])
		}
	}
	return strings.Join(parts, ",")
}

// MarshalText makes the set print as its string form in JSON and YAML.
func (s StatusRanges) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "200-299,304".
func (s *StatusRanges) UnmarshalText(text []byte) error {
	var out StatusRanges
	for part := range strings.SplitSeq(string(text), ",") {
		from, to, isRange := strings.Cut(part, "-")
		if !isRange {
			to = from
		}
		lo, err1 := strconv.Atoi(strings.TrimSpace(from))
		hi, err2 := strconv.Atoi(strings.TrimSpace(to))
		if err1 != nil || err2 != nil {
			return fmt.Errorf(`invalid status list %q: want codes and ranges like "200-299,304"`, text)
		}
		out = append(out, StatusRange{lo, hi})
	}
	if err := out.validate(); err != nil {
		return err
	}
	*s = out
	return nil
}

func (s StatusRanges) validate() error {
	if len(s) == 0 {
		return fmt.Errorf("at least one status code is required")
	}
	for _, r := range s {
		switch {
		case r[0] < 100 || r[1] > 599:
			return fmt.Errorf("status %s is outside 100-599", StatusRanges{r})
		case r[0] > r[1]:
			return fmt.Errorf("status range %s is backwards", StatusRanges{r})
		}
	}
	return nil
}
