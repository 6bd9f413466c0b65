//go:build !noasm && !purego && gc

package asm

import "github.com/klauspost/cpuid/v2"

//go:generate go run -C _gen . -kernel qgemm_avx2 -out ../qgemm_4x16_avx2_amd64.s
//go:generate go run -C _gen . -kernel qgemm_vnni512 -out ../qgemm_8x32_vnni512_amd64.s
//go:generate go run -C _gen . -kernel qgemm_avxvnni -out ../qgemm_4x16_avxvnni_amd64.s

// haveVNNI512: VPDPBUSD on zmm needs AVX512-VNNI on top of the AVX512 path's features.
var haveVNNI512 = cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512VL, cpuid.AVX512DQ, cpuid.AVX512BW, cpuid.AVX512VNNI)

const haveDot = false // arm64 dotprod

// haveAVXVNNI: the VEX form of VPDPBUSD (Alder Lake, Zen 5, ...) on top of AVX2.
var haveAVXVNNI = cpuid.CPU.Supports(cpuid.AVX2, cpuid.AVXVNNI)

// qgemmRequant8x32VNNI512 is QGemm.Requant's AVX512-VNNI kernel over the qVNNI512 layout
// (a: u8 rows of lda bytes, kg quads; packed: per 32-column block, kg groups of 32
// lanes of 4 int8), 8x32 tiles with 4-, 2- and 1-row remainders (those split k over
// 2, 4 and 8 partial int32 sums, exact in any order). As a Go loop (corr, scale, c
// advance with the column block):
//
//	for j := 0; j < n; j++ {
//		for i := 0; i < m; i++ {
//			s := corr[j]
//			for p := 0; p < 4*kg; p++ { s += int32(a[i*lda+p]) * int32(w[p][j]) }
//			f := min(max(float32(s)*scale[j], lo), hi)
//			c[i*ldc+j] = float32(roundHalfEven(f)) * sy
//		}
//	}
//
//go:noescape
func qgemmRequant8x32VNNI512(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)

// qgemmFloat8x32VNNI512 is qgemmRequant8x32VNNI512 with the float output stage:
// c[i*ldc+j] = min(max(float32(s)*scale[j] + bias[j], lo), hi) (bias advances too).
//
//go:noescape
func qgemmFloat8x32VNNI512(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)

// qgemmRequant4x16AVX2 is qgemmRequant8x32VNNI512 for the qAVX2 layout (a: zero-extended
// u16 values, packed: per 16-column block kg groups of 16 lanes of 2 int16): each
// group is one VPMADDWD (exact: 255*127*2 fits int32) and one VPADDD, on 4x16 tiles
// with 2- and 1-row remainders.
//
//go:noescape
func qgemmRequant4x16AVX2(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)

// qgemmFloat4x16AVX2 is qgemmRequant4x16AVX2 with the float output stage.
//
//go:noescape
func qgemmFloat4x16AVX2(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)

// qgemmRequant4x16AVXVNNI is qgemmRequant4x16AVX2 over the u8 x s8 quad layout of
// qgemmRequant8x32VNNI512 with 16-column blocks: one VEX VPDPBUSD per group and
// vector (4x16 tiles, 2- and 1-row remainders over 2 and 4 partial sums).
//
//go:noescape
func qgemmRequant4x16AVXVNNI(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)

// qgemmFloat4x16AVXVNNI is qgemmRequant4x16AVXVNNI with the float output stage.
//
//go:noescape
func qgemmFloat4x16AVXVNNI(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)

// qgemmRequantPool8x32VNNI512 is qgemmRequant8x32VNNI512 of QGemm.RequantPool: per
// output row, VPMAXSD over the sums of 4 consecutive A rows before the output stage
// (8- and 4-row tiles; m a multiple of 4; c advances m/4 rows; bias unused).
//
//go:noescape
func qgemmRequantPool8x32VNNI512(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)

// qgemmRequantPool4x16AVX2 is qgemmRequantPool8x32VNNI512 over qgemmRequant4x16AVX2.
//
//go:noescape
func qgemmRequantPool4x16AVX2(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)

// qgemmRequantPool4x16AVXVNNI is qgemmRequantPool8x32VNNI512 over qgemmRequant4x16AVXVNNI.
//
//go:noescape
func qgemmRequantPool4x16AVXVNNI(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)

// qgemmRequantBytes8x32VNNI512 is qgemmRequant8x32VNNI512 storing byte(q+zp) (VPMOVDB;
// c a byte matrix, ldc in bytes) for QGemm.RequantBytes.
//
//go:noescape
func qgemmRequantBytes8x32VNNI512(m, n, kg int, a *byte, lda int, packed *byte, c *byte, ldc int, corr *int32, scale *float32, bias *float32, lo, hi float32, zp int32)

// qgemmRequantPoolBytes8x32VNNI512 is qgemmRequantPool8x32VNNI512 storing bytes, as
// qgemmRequantBytes8x32VNNI512.
//
//go:noescape
func qgemmRequantPoolBytes8x32VNNI512(m, n, kg int, a *byte, lda int, packed *byte, c *byte, ldc int, corr *int32, scale *float32, bias *float32, lo, hi float32, zp int32)

// qgemmRequantBytes4x16AVXVNNI is qgemmRequantBytes8x32VNNI512 over
// qgemmRequant4x16AVXVNNI (packs and VPERMD to bytes; n a multiple of 4: the last
// column block stores whole dwords).
//
//go:noescape
func qgemmRequantBytes4x16AVXVNNI(m, n, kg int, a *byte, lda int, packed *byte, c *byte, ldc int, corr *int32, scale *float32, bias *float32, lo, hi float32, zp int32)

// qgemmRequantPoolBytes4x16AVXVNNI is qgemmRequantBytes4x16AVXVNNI of the pool's max.
//
//go:noescape
func qgemmRequantPoolBytes4x16AVXVNNI(m, n, kg int, a *byte, lda int, packed *byte, c *byte, ldc int, corr *int32, scale *float32, bias *float32, lo, hi float32, zp int32)

// qgemmRequantBytes4x16AVX2 is qgemmRequantBytes8x32VNNI512 over qgemmRequant4x16AVX2,
// storing u16 elements (VPACKUSDW, VPERMQ; n even: the last column block stores whole
// dwords; ldc in elements).
//
//go:noescape
func qgemmRequantBytes4x16AVX2(m, n, kg int, a *byte, lda int, packed *byte, c *byte, ldc int, corr *int32, scale *float32, bias *float32, lo, hi float32, zp int32)

// qgemmRequantPoolBytes4x16AVX2 is qgemmRequantBytes4x16AVX2 of the pool's max.
//
//go:noescape
func qgemmRequantPoolBytes4x16AVX2(m, n, kg int, a *byte, lda int, packed *byte, c *byte, ldc int, corr *int32, scale *float32, bias *float32, lo, hi float32, zp int32)

func qgemmBytesKernel(q *QGemm, pool bool, m int, a []byte, c []byte, ldc int, corr []int32, scale []float32, lo, hi float32, zp int32) bool {
	switch {
	case q.p == qAVX2 && pool:
		qgemmRequantPoolBytes4x16AVX2(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], nil, lo, hi, zp)
	case q.p == qAVX2:
		qgemmRequantBytes4x16AVX2(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], nil, lo, hi, zp)
	case q.p == qAVXVNNI && pool:
		qgemmRequantPoolBytes4x16AVXVNNI(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], nil, lo, hi, zp)
	case q.p == qAVXVNNI:
		qgemmRequantBytes4x16AVXVNNI(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], nil, lo, hi, zp)
	case q.p != qVNNI512:
		return false
	case pool:
		qgemmRequantPoolBytes8x32VNNI512(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], nil, lo, hi, zp)
	default:
		qgemmRequantBytes8x32VNNI512(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], nil, lo, hi, zp)
	}
	return true
}

func qgemmPoolAsm(p qpath) bool { return p == qVNNI512 || p == qAVX2 || p == qAVXVNNI }

func qgemmPoolKernel(q *QGemm, m int, a []byte, c []float32, ldc int, corr []int32, scale []float32, lo, hi, sy float32) bool {
	switch q.p {
	case qVNNI512:
		qgemmRequantPool8x32VNNI512(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], nil, lo, hi, sy)
	case qAVX2:
		qgemmRequantPool4x16AVX2(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], nil, lo, hi, sy)
	case qAVXVNNI:
		qgemmRequantPool4x16AVXVNNI(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], nil, lo, hi, sy)
	default:
		return false
	}
	return true
}

func qgemmKernel(q *QGemm, round bool, m int, a []byte, c []float32, ldc int, corr []int32, scale, bias []float32, lo, hi, sy float32) bool {
	var pb *float32
	if !round {
		pb = &bias[0]
	}
	switch {
	case q.p == qVNNI512 && round:
		qgemmRequant8x32VNNI512(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], pb, lo, hi, sy)
	case q.p == qVNNI512:
		qgemmFloat8x32VNNI512(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], pb, lo, hi, sy)
	case q.p == qAVX2 && round:
		qgemmRequant4x16AVX2(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], pb, lo, hi, sy)
	case q.p == qAVXVNNI && round:
		qgemmRequant4x16AVXVNNI(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], pb, lo, hi, sy)
	case q.p == qAVXVNNI:
		qgemmFloat4x16AVXVNNI(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], pb, lo, hi, sy)
	case q.p == qAVX2:
		qgemmFloat4x16AVX2(m, q.n, q.kg, &a[0], q.LDA(), &q.packed[0], &c[0], ldc, &corr[0], &scale[0], pb, lo, hi, sy)
	default:
		return false
	}
	return true
}
