//go:build noasm || purego || !gc || !amd64

package asm

func gatherShortAVX2(dst, src *float32, offs *int, nruns, runLen int) { panic("unreachable") }
func gatherRunsAVX2(dst, src *float32, offs *int, nruns, runLen int)  { panic("unreachable") }
