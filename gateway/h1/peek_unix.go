//go:build unix

package h1

import "syscall"

// peek is the RawConn.Read callback of an idle connection: it looks for
// a byte without taking it (MSG_PEEK), so readiness the poller reported
// before the wait began is not lost, and no buffer is needed to wait.
func (c *conn) peek(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return false // park on the poller
	}
	c.ready = err == nil // a byte, or EOF (0 bytes): the read that follows sees it
	return true
}
