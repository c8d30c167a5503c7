//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package proxy

import "golang.org/x/sys/unix"

// peekByte peeks at one byte without waiting.
func peekByte(fd int, b []byte) (int, error) {
	n, _, err := unix.Recvfrom(fd, b, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return n, err
}
