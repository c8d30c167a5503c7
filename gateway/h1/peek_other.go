//go:build !unix

package h1

// peek without MSG_PEEK: report readiness at once; the read that follows
// waits with a buffer (idle connections hold one on these platforms).
func (c *conn) peek(uintptr) bool { c.ready = true; return true }
