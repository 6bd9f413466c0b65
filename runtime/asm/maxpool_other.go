//go:build noasm || purego || !gc || !amd64

package asm

func vmaxPoolAVX2(dst, src *float32, bases *int, npix int, offs *int, ntaps, c int) {
	panic("unreachable")
}

func gatherShortAVX2(dst, src *float32, offs *int, nruns, runLen int) { panic("unreachable") }
