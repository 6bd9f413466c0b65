package asm

import "unsafe"

// unsafePointerAdd is p + i float32 elements.
func unsafePointerAdd(p *float32, i int) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(p), 4*i)
}
