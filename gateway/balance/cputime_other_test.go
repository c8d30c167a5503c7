//go:build !linux

package balance

func threadCPU() (int64, bool) { return 0, false }
