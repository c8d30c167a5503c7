//go:build !linux

package actuator

import "syscall"

// procAttr puts the backend in its own process group (so stop reaches its
// children too). Without Linux's Pdeathsig, Close is the only guard
// against orphans.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
