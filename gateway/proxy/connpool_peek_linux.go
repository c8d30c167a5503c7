package proxy

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// peekByte peeks at one byte without waiting. It calls recvfrom directly:
// unix.Recvfrom allocates a sockaddr for the sender on every call, which a
// connected TCP socket never fills in. MSG_DONTWAIT never blocks, so the
// raw form skips the scheduler's syscall bookkeeping on this hot path.
func peekByte(fd int, b []byte) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
