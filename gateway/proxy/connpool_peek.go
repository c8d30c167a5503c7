//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package proxy

import (
	"net"

	"golang.org/x/sys/unix"
)

func (c *conn) initIdleCheck(raw net.Conn) {
	c.fd = -1
	tc, ok := raw.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { c.fd = int(fd) })
}

// idleReadable reports whether an idle connection has something to read:
// bytes, EOF or an error. It costs one non-blocking MSG_PEEK recv and no
// goroutine, unlike net/http's Transport, which keeps a reader blocked on
// every idle connection for the same purpose.
//
// The descriptor is used directly, without the poller's read lock: an idle
// connection taken from the pool has exactly one owner, so nothing closes
// it (and frees the number) while it is checked.
func (c *conn) idleReadable() bool {
	if c.fd < 0 {
		return false
	}
	_, err := peekByte(c.fd, c.peekBuf[:])
	if err == unix.EAGAIN || err == unix.EWOULDBLOCK {
		return false // nothing arrived: the connection is quiet
	}
	return true // bytes (n > 0), EOF (n == 0) or an error such as a reset
}
