package h1

import (
	"syscall"
	"unsafe"
)

// probe is ClientGone's RawConn.Control callback: a non-blocking MSG_PEEK
// recv of one byte. Bytes (a pipelined request) or nothing yet (EAGAIN)
// mean the client is there; EOF or an error such as a reset mean it left.
// recvfrom is called directly: syscall.Recvfrom makes a sockaddr a
// connected socket never fills in.
func (c *conn) probe(fd uintptr) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.peekBuf[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EINTR:
	case errno != 0 || n == 0:
		c.gone = true
	}
}
