// Command _gen emits kinfer's amd64 kernels with avo. It is its own module so that
// users' builds never see avo. Run through `go generate ./runtime/asm/`.
//
//	go run . -kernel gemm_avx2 -out ../gemm_minmax_6x16_avx2_amd64.s
package main

import (
	"fmt"
	"os"

	. "github.com/mmcloughlin/avo/build"
)

func main() {
	// -kernel is ours; everything else goes to avo's flag parser.
	kernel := ""
	var rest []string
	for i := 0; i < len(os.Args); i++ {
		if os.Args[i] == "-kernel" && i+1 < len(os.Args) {
			kernel = os.Args[i+1]
			i++
			continue
		}
		rest = append(rest, os.Args[i])
	}
	os.Args = rest
	if kernel == "gemm_neon" || kernel == "dwconv_neon" || kernel == "qgemm_neon" || kernel == "clamp_neon" {
		// arm64 text (avo emits amd64 only) to the file after -out
		out := ""
		for i := 0; i+1 < len(rest); i++ {
			if rest[i] == "-out" {
				out = rest[i+1]
			}
		}
		f, err := os.Create(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		switch kernel {
		case "gemm_neon":
			neonGemm(f)
		case "qgemm_neon":
			qneonDot(f)
		case "clamp_neon":
			neonClamp(f)
		default:
			neonDWConv(f)
		}
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ConstraintExpr("!noasm,!purego,gc")
	switch kernel {
	case "gemm_avx2":
		gemm(gemmCfg{name: "gemmMinmax6x16AVX2", mr: 6, nr: 16, vb: 32, gemv4: true})
	case "gemm_avx2_narrow":
		gemm(gemmCfg{name: "gemmMinmax12x8AVX2", mr: 12, nr: 8, vb: 32})
		gemm(gemmCfg{name: "gemmMinmax6x8AVX2", mr: 6, nr: 8, vb: 32, kparts: 4})
	case "gemm_avx512":
		gemm(gemmCfg{name: "gemmMinmax8x32AVX512", mr: 8, nr: 32, vb: 64, avx512: true, gemv4: true})
	case "qgemm_avx2":
		qgemmKernels(false, false)
	case "qgemm_avxvnni":
		qgemmKernels(false, true)
	case "quant_avx2":
		quantKernels()
	case "qgemm_vnni512":
		qgemmKernels(true, false)
	case "probe":
		probes()
	case "act_avx2":
		activations()
	case "clamp_avx2":
		clampKernels()
	case "norm_avx2":
		cstPrefix = "norm_"
		normKernels()
	case "winograd_avx2":
		winogradKernels()
	case "winograd4_avx2":
		winograd4Kernels()
	case "winograd_avx512":
		setWide(true)
		winogradKernels()
		winograd4Kernels()
	case "pool_avx2":
		maxPoolKernel()
	case "gather_avx2":
		gatherShortKernel()
		gatherRunsKernel()
	case "lstm_avx2":
		lstmKernelsAVX2()
	case "lstm_avx512":
		lstmKernelsAVX512()
	case "dwconv_avx2":
		dwconvKernels(false)
	case "dwconv_avx512":
		dwconvKernels(true)
	case "gru_avx2":
		gruKernels()
	default:
		fmt.Fprintf(os.Stderr, "unknown -kernel %q\n", kernel)
		os.Exit(2)
	}
	Generate()
	if kernel == "qgemm_avxvnni" {
		for i := 0; i+1 < len(rest); i++ {
			if rest[i] == "-out" {
				if err := vexVNNI(rest[i+1]); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		}
	}
}
