package h1

// ClientGone reports, without blocking and without consuming anything,
// whether the client closed or reset its connection. There is no
// background read to cancel the request context when the client leaves
// (see the package doc); a handler that waits on something else (the
// proxy, on its backend) asks this now and then instead, and abandons the
// wait when it says so. Like net/http's background read, it counts a
// client's half-close (EOF) as gone. False when it cannot tell.
func (w *response) ClientGone() bool {
	c := w.c
	if w.hijacked || c == nil || c.raw == nil {
		return false
	}
	if c.probeFn == nil {
		c.probeFn = c.probe // bound once per connection, not per call
	}
	c.gone = false
	_ = c.raw.Control(c.probeFn)
	return c.gone
}
