package asm

import (
	"fmt"
	"os"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// ISA is an instruction-set path: the family of kernels the runtime dispatches to.
type ISA uint8

// Kernel paths, from the plain-Go reference up.
const (
	Generic ISA = iota // plain Go, every platform
	AVX2               // amd64 AVX2 + FMA3
	AVX512             // amd64 AVX-512F (+VL, DQ, BW)
	NEON               // arm64 Advanced SIMD
)

func (i ISA) String() string {
	switch i {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	case NEON:
		return "neon"
	}
	return fmt.Sprintf("isa(%d)", uint8(i))
}

// Available reports whether this build and this CPU can run the path. It is read
// from a table filled once at init: kernels call it on every entry, and asking cpuid
// each time cost ~15% of a small LSTM step.
func Available(i ISA) bool {
	return int(i) < len(availableISA) && availableISA[i]
}

var availableISA = [...]bool{Generic: true, AVX2: detect(AVX2), AVX512: detect(AVX512), NEON: detect(NEON)}

func detect(i ISA) bool {
	switch i {
	case Generic:
		return true
	case AVX2:
		return hasAsm && isAMD64 && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
	case AVX512:
		return hasAsm && isAMD64 && cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512VL, cpuid.AVX512DQ, cpuid.AVX512BW)
	case NEON:
		return hasAsm && isARM64 && cpuid.CPU.Supports(cpuid.ASIMD)
	}
	return false
}

// Paths lists every path this build and CPU can run, Generic first (tests and
// benchmarks loop over it).
func Paths() []ISA {
	var out []ISA
	for _, i := range []ISA{Generic, AVX2, AVX512, NEON} {
		if Available(i) {
			out = append(out, i)
		}
	}
	return out
}

// Best is the fastest path this build and CPU support.
func Best() ISA {
	for _, i := range []ISA{AVX512, AVX2, NEON} {
		if Available(i) && preferred(i) {
			return i
		}
	}
	return Generic
}

// Parse maps a name (generic, avx2, avx512, neon) to its ISA; it is an error when the
// path is unknown or not available on this build and CPU.
func Parse(name string) (ISA, error) {
	for _, i := range []ISA{Generic, AVX2, AVX512, NEON} {
		if strings.EqualFold(name, i.String()) {
			if !Available(i) {
				return Generic, fmt.Errorf("kernel path %q is not available on this CPU/build (have: %s)", name, Features())
			}
			return i, nil
		}
	}
	return Generic, fmt.Errorf("unknown kernel path %q (want generic, avx2, avx512 or neon)", name)
}

// FromEnv returns the path forced by KINFER_ISA, or Best() when it is unset.
func FromEnv() (ISA, error) {
	if s := os.Getenv("KINFER_ISA"); s != "" {
		return Parse(s)
	}
	return Best(), nil
}

// Features describes the CPU and the SIMD features kinfer cares about.
func Features() string {
	var fs []string
	for _, f := range []cpuid.FeatureID{cpuid.AVX2, cpuid.FMA3, cpuid.AVX512F, cpuid.AVX512VL, cpuid.AVX512DQ, cpuid.AVX512BW, cpuid.AVX512VNNI, cpuid.AVXVNNI, cpuid.ASIMD, cpuid.ASIMDDP} {
		if cpuid.CPU.Supports(f) {
			fs = append(fs, strings.ToLower(f.String()))
		}
	}
	name := strings.TrimSpace(cpuid.CPU.BrandName)
	if name == "" {
		name = "unknown CPU"
	}
	if !hasAsm {
		fs = append(fs, "(assembly disabled by build tags)")
	}
	return fmt.Sprintf("%s; %d logical cores; features: %s", name, cpuid.CPU.LogicalCores, strings.Join(fs, " "))
}
