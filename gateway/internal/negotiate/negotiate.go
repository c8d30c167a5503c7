// Package negotiate reads content-negotiation headers the way both the
// static file server and the response compressor need them, so the two
// can never disagree about what a client accepts.
package negotiate

import (
	"strconv"
	"strings"
)

// EncodingQ returns the q-value that Accept-Encoding ae gives a coding,
// named by any of its aliases (gzip and x-gzip are one coding): the named
// entry's if listed, else the "*" entry's, else 0. A malformed or
// out-of-range q counts as 0 (refused), never as 1.
func EncodingQ(ae string, aliases ...string) float64 {
	star, named := -1.0, -1.0
	for ae != "" {
		var tok string
		tok, ae, _ = strings.Cut(ae, ",")
		name, params, _ := strings.Cut(tok, ";")
		name = strings.TrimSpace(name)
		q := weight(params)
		if name == "*" {
			star = q
			continue
		}
		for _, a := range aliases {
			if strings.EqualFold(name, a) {
				named = q
			}
		}
	}
	if named >= 0 {
		return named
	}
	return max(star, 0)
}

// weight is the q parameter among params (1 without one).
func weight(params string) float64 {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return 0
		}
		return f
	}
	return 1
}
