//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris)

package proxy

import "net"

// Without a non-blocking peek on this platform, idle connections are not
// checked; the checks at put still refuse connections with bytes buffered.
func (c *conn) initIdleCheck(net.Conn) {}

func (c *conn) idleReadable() bool { return false }
