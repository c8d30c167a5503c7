package yamlconf

import (
	"fmt"
	"strings"
	"time"
)

// Check collects the problems a block's validator finds, by key relative
// to the block ("level", "jwt.algorithms[0]"). A package that owns a
// config block validates it with one; the config that composes the block
// adds the block's own key with In, and Lines.Locate adds FILE:LINE, so a
// feature package reports as precisely as the file's loader without
// knowing where its block is written.
type Check struct{ Errs Errors }

// Add records a problem at key ("" for the block itself).
func (c *Check) Add(key, format string, args ...any) {
	c.Errs = append(c.Errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// In records errs, found by a block's validator, under the block's key.
func (c *Check) In(block string, errs Errors) {
	for _, e := range errs {
		e.Key = Under(block, e.Key)
		c.Errs = append(c.Errs, e)
	}
}

// Under is key (relative to a block) as seen from the block's parent.
func Under(block, key string) string {
	switch {
	case key == "":
		return block
	case block == "" || strings.HasPrefix(key, "["):
		return block + key
	}
	return block + "." + key
}

// Between checks lo <= n <= hi.
func (c *Check) Between(key string, n, lo, hi int) {
	if n < lo || n > hi {
		c.Add(key, "must be between %d and %d, got %d", lo, hi, n)
	}
}

// Positive checks d > 0.
func (c *Check) Positive(key string, d time.Duration) {
	if d <= 0 {
		c.Add(key, "must be positive, got %v", d)
	}
}

// NonNegative checks d >= 0.
func (c *Check) NonNegative(key string, d time.Duration) {
	if d < 0 {
		c.Add(key, "must not be negative, got %v", d)
	}
}

// Written reports whether key was written in the file (not only its
// parent), for checks of keys that must not be written in some cases.
func (l *Lines) Written(key string) bool { _, ok := l.d.lines[key]; return ok }
