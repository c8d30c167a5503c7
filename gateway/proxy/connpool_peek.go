//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package proxy

import (
	"net"

	"golang.org/x/sys/unix"
)

func (c *conn) initIdleCheck() {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	c.rc = rc
	c.peekFn = func(fd uintptr) bool {
		c.peekN, c.peekErr = peekByte(int(fd), c.peekBuf[:])
		return true // never wait for readability: this is a poll
	}
}

// idleReadable reports whether an idle connection has something to read:
// bytes, EOF or an error. It costs one non-blocking MSG_PEEK recv and no
// goroutine, unlike net/http's Transport, which keeps a reader blocked on
// every idle connection for the same purpose.
func (c *conn) idleReadable() bool {
	if c.rc == nil {
		return false
	}
	c.peekN, c.peekErr = 0, nil
	if err := c.rc.Read(c.peekFn); err != nil {
		return true // closed, or a deadline left behind: not reusable either way
	}
	if c.peekErr == unix.EAGAIN || c.peekErr == unix.EWOULDBLOCK {
		return false // nothing arrived: the connection is quiet
	}
	return true // bytes (n > 0), EOF (n == 0) or an error such as a reset
}
