package balance

import (
	"syscall"
	"unsafe"
)

// threadCPU returns the calling thread's CPU time in nanoseconds
// (CLOCK_THREAD_CPUTIME_ID), so serial benchmarks on a shared machine can
// report CPU per op besides wall time per op.
func threadCPU() (int64, bool) {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, err := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); err != 0 {
		return 0, false
	}
	return ts.Nano(), true
}
