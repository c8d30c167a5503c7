package actuator

import "syscall"

// procAttr puts the backend in its own process group (so stop reaches its
// children too) and has the kernel kill it if the daemon dies first.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
