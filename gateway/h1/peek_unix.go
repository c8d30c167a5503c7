//go:build unix

package h1

import "syscall"

// readIdle is the RawConn.Read callback of an idle connection: it takes
// a pooled buffer only for the moment of a non-blocking read, and gives
// it back if nothing came, so the goroutine parks on the poller with no
// buffer. Data, EOF and errors all end the wait (ready tells them apart).
func (c *conn) readIdle(fd uintptr) bool {
	c.take()
	n, err := syscall.Read(int(fd), c.in.buf[c.in.w:])
	if err == syscall.EAGAIN || err == syscall.EINTR {
		c.release()
		return false // park on the poller
	}
	if n > 0 {
		c.in.w += n
	}
	c.ready = n > 0
	return true
}
