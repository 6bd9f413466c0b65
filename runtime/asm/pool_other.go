//go:build noasm || purego || !gc || !amd64

package asm

func vmaxPoolAVX2(dst, src *float32, bases *int, npix int, offs *int, ntaps, c int) {
	panic("unreachable")
}

func vpoolMaxTapsAVX2(dst, src *float32, offs, ptr *int, npix, c int) { panic("unreachable") }
func vpoolAvgTapsAVX2(dst, src *float32, offs, ptr *int, scale *float32, npix, c int) {
	panic("unreachable")
}
func vpoolMaxStrideAVX2(dst, src *float32, ntaps, c int)                { panic("unreachable") }
func vpoolAvgStrideAVX2(dst, src *float32, ntaps, c int, scale float32) { panic("unreachable") }
