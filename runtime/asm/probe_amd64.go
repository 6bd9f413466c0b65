//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel probe -out ../probe_amd64.s

// probeAddChain runs n iterations of 16 dependent ADDQ (16*n cycles); it returns the sum
// so nothing is dead. Used only by BenchmarkPeak to measure the clock.
//
//go:noescape
func probeAddChain(n int) int

// probeFMAAVX2 runs n iterations of 12 independent ymm FMAs (12*16 FLOP).
//
//go:noescape
func probeFMAAVX2(n int)

// probeFMAAVX512 runs n iterations of 16 independent zmm FMAs (16*32 FLOP).
//
//go:noescape
func probeFMAAVX512(n int)

const haveProbes = true
