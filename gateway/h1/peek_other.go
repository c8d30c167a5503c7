//go:build !unix

package h1

// readIdle without a non-blocking read: report readiness at once; the
// read that follows waits with a buffer (idle connections hold one on
// these platforms).
func (c *conn) readIdle(uintptr) bool { c.ready = true; return true }
