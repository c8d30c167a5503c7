package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse checks that no input panics, that failures are *Error values
// with a message, and that whatever parses also re-validates.
func FuzzParse(f *testing.F) {
	for _, tc := range errorCases {
		f.Add([]byte(strings.TrimPrefix(tc.yaml, "\n")))
	}
	f.Add([]byte(minimal))
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %T is not an *Error: %v", err, err)
				}
				es = Errors{e}
			}
			for _, e := range es {
				if e.File != "f.yaml" || e.Line < 0 || e.Msg == "" {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		if errs := c.check(); len(errs) > 0 {
			t.Fatalf("parsed config does not re-validate: %v", errs)
		}
	})
}
