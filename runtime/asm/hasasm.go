//go:build !noasm && !purego && gc

package asm

// hasAsm is true when assembly kernels are compiled in.
const hasAsm = true

// preferred reports whether an available path should be picked by Best. AVX-512 is
// only preferred where it measures faster than AVX2 (set by the kernel files).
func preferred(i ISA) bool { return i != AVX512 || preferAVX512 }

// preferAVX512 is flipped by kernel code once AVX-512 kernels exist and measure faster.
var preferAVX512 = false
