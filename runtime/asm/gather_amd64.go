//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel gather_avx2 -out ../gather_avx2_amd64.s

// gatherShortAVX2 is GatherRuns for 1 <= runLen <= 8: one 8-float block per run,
//
//	for r := 0; r < nruns; r++ { copy(dst[r*runLen:r*runLen+8], src[offs[r]:offs[r]+8]) }
//
//go:noescape
func gatherShortAVX2(dst, src *float32, offs *int, nruns, runLen int)

// gatherRunsAVX2 computes
//
//	for r := 0; r < nruns; r++ {
//		copy(dst[r*runLen:(r+1)*runLen], src[offs[r]:offs[r]+runLen])
//	}
//
// moving whole 8-float blocks: it reads up to 7 floats past each source run and writes
// up to 7 past the last destination run (runLen >= 1).
//
//go:noescape
func gatherRunsAVX2(dst, src *float32, offs *int, nruns, runLen int)
