// Command drawbridge runs the gateway, the example backend and (as the
// project grows) the autoscaler, local mode and deploys. It only parses
// flags and wires library packages together.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := execute(newRoot()); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(os.Stderr, "drawbridge:", err)
		os.Exit(code)
	}
}

// exitError carries a specific exit status (2 for invalid input).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error { return &exitError{code: 2, err: err} }
