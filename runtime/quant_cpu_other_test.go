//go:build !linux

package runtime_test

import "time"

// threadCPU falls back to wall time off Linux.
func threadCPU() int64 { return time.Now().UnixNano() }
