package yamlconf

import (
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a configuration, located by file, line and the
// dotted key path (e.g. "pools[1].health_check.interval").
type Error struct {
	File string // the file name given to Decode; "" for configs built in Go
	Line int    // 1-based; 0 when unknown (Default, a few YAML syntax errors)
	Key  string // dotted key path; "" for whole-document problems
	Msg  string
}

// Error formats as "FILE:LINE: KEY: MSG", leaving out the parts that are
// unknown rather than printing empty fields.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one configuration, sorted by line.
// Err returns it when there is more than one; errors.As finds the
// individual *Error values either way.
type Errors []*Error

// Error puts each problem on its own line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// Err returns nil, the single *Error, or the list sorted by line.
func (es Errors) Err() error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	return es
}
