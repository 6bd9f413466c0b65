//go:build noasm || purego || !gc || !amd64

package asm

func probeAddChain(n int) int { return 0 }
func probeFMAAVX2(n int)      {}
func probeFMAAVX512(n int)    {}

const haveProbes = false
