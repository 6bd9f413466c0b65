//go:build linux

package runtime_test

import (
	"syscall"
	"unsafe"
)

// threadCPU is the calling OS thread's CPU time in ns: CLOCK_THREAD_CPUTIME_ID, to the
// nanosecond (getrusage's thread times move in scheduler ticks).
func threadCPU() int64 {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return ts.Nano()
}
