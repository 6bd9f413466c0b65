package asm

// The NEON dot kernel is arm64 text from _gen/qneon.go; its directive lives here, in a
// file of every architecture, so that go generate on any machine rewrites it.
//
//go:generate go run -C _gen . -kernel qgemm_neon -out ../qgemm_8x8_neon_arm64.s

import (
	"fmt"
	"os"
)

// The int8 GEMM: u8 activations times s8 weights with int32 sums and a float32 output
// stage. A is quantized from float32 rows by QGemm.Quantize into the layout of the
// chosen kernel; the weights are packed at compile by NewQGemm. Every path computes the
// same integers (sums are exact) and the same float operations in the output stage, so
// all paths give the same bits.

// qpath is the family of int8 kernels: its A layout, packing and tile.
type qpath uint8

const (
	qGeneric  qpath = iota // plain Go over the VNNI layout
	qAVX2                  // AVX2 without VNNI: u16 x s16 pairs through VPMADDWD (exact)
	qVNNI512               // AVX512-VNNI: VPDPBUSD on u8 x s8 quads in zmm
	qNEON                  // arm64 dotprod: SDOT on s8 (u8 - 128) x s8 quads, 8x8 tiles
	qAVXVNNI               // AVX-VNNI: VEX VPDPBUSD on u8 x s8 quads in ymm, 4x16 tiles
	qNEONMull              // arm64 without dotprod: qNEON's layout, SMULL+SADALP on 4x8 tiles
)

// neon reports the NEON layout (A stored as int8(a-128), 8-column blocks).
func (p qpath) neon() bool { return p == qNEON || p == qNEONMull }

// qpathFor picks the int8 kernels for a float ISA: AVX512 with AVX512-VNNI runs
// VPDPBUSD in zmm, AVX2 with AVX-VNNI (or AVX512 with only that) VEX VPDPBUSD in ymm,
// other AVX2 (or any, with KINFER_NOVNNI=1) the widening kernel; NEON with dotprod
// SDOT, without (or with KINFER_NOVNNI=1) SMULL/SADALP; everything else the plain-Go
// reference.
func qpathFor(isa ISA) qpath {
	switch {
	case !Available(isa):
		return qGeneric
	case isa == AVX512 && haveVNNI512 && !noVNNI:
		return qVNNI512
	case isa == NEON && haveDot && !noVNNI:
		return qNEON
	case isa == NEON:
		if hasAsm && isARM64 {
			return qNEONMull
		}
	case (isa == AVX2 || isa == AVX512) && haveAVXVNNI && !noVNNI:
		return qAVXVNNI
	case isa == AVX2, isa == AVX512:
		if hasAsm && isAMD64 {
			return qAVX2
		}
	}
	return qGeneric
}

// noVNNI forces the int8 kernels without dot-product instructions (AVX2's widening
// one, NEON's SMULL one; KINFER_NOVNNI=1; tests set it directly).
var noVNNI = os.Getenv("KINFER_NOVNNI") == "1"

// SetNoVNNI forces (or releases) the int8 kernels without dot-product instructions
// (non-VNNI on amd64, non-dotprod on arm64) for QGemms made afterwards and returns the
// previous setting (for tests and benchmarks).
func SetNoVNNI(on bool) bool { old := noVNNI; noVNNI = on; return old }

// grp is the number of k values per 32-bit lane; nr the column-block width; abytes the
// bytes per A element.
func (p qpath) grp() int {
	if p == qAVX2 {
		return 2
	}
	return 4
}

func (p qpath) nr() int {
	switch p {
	case qAVX2, qAVXVNNI:
		return 16
	case qNEON, qNEONMull:
		return 8
	}
	return 32
}

// kgStep is the k-group multiple of the packing (NEON's kernel takes 16 bytes of a row
// at a time).
func (p qpath) kgStep() int {
	if p.neon() {
		return 4
	}
	return 1
}

func (p qpath) abytes() int { return 4 / p.grp() }

func (p qpath) String() string {
	switch p {
	case qAVX2:
		return "4x16 avx2 (u16 x s16 vpmaddwd)"
	case qVNNI512:
		return "8x32 avx512-vnni"
	case qNEON:
		return "8x8 neon sdot"
	case qNEONMull:
		return "4x8 neon smull"
	case qAVXVNNI:
		return "4x16 avx-vnni"
	}
	return "go"
}

// QMaxK is the longest k a QGemm accepts: 255*128*k stays inside int32.
const QMaxK = 1 << 16

// QGemm is a k x n int8 weight matrix packed for one path, with its column sums.
type QGemm struct {
	p        qpath
	k, n, kg int
	packed   []byte
	colsum   []int32
}

// NewQGemm packs w (k x n row-major int8 weights, the zero point already subtracted)
// for isa's int8 kernel: per block of NR columns, kg = ceil(k/grp) groups of NR lanes of
// grp consecutive k values (int8 quads for VNNI, int16 pairs for AVX2), zero-padded.
func NewQGemm(isa ISA, k, n int, w []int8) (*QGemm, error) {
	if k <= 0 || n <= 0 || k > QMaxK || len(w) != k*n {
		return nil, fmt.Errorf("asm.NewQGemm: bad shape k=%d n=%d len(w)=%d (k at most %d)", k, n, len(w), QMaxK)
	}
	p := qpathFor(isa)
	g, nr := p.grp(), p.nr()
	q := &QGemm{p: p, k: k, n: n, kg: ((k+g-1)/g + p.kgStep() - 1) / p.kgStep() * p.kgStep()}
	np := q.NP()
	q.packed = make([]byte, np/nr*q.kg*nr*4)
	q.colsum = make([]int32, np)
	for j := 0; j < n; j++ {
		blk := q.packed[j/nr*q.kg*nr*4:]
		lane := j % nr
		for kk := 0; kk < k; kk++ {
			v := w[kk*n+j]
			q.colsum[j] += int32(v)
			off := (kk/g*nr+lane)*4 + kk%g*(4/g)
			if g == 2 {
				u := uint16(int16(v))
				blk[off], blk[off+1] = byte(u), byte(u>>8)
			} else {
				blk[off] = byte(v)
			}
		}
	}
	return q, nil
}

// NP is n rounded up to whole column blocks: the length of the per-column arrays (corr,
// scale, bias) the GEMM calls read.
func (q *QGemm) NP() int { nr := q.p.nr(); return (q.n + nr - 1) / nr * nr }

// LDA is the bytes per quantized A row (Quantize's output stride).
func (q *QGemm) LDA() int { return q.kg * 4 }

// Name describes the kernel.
func (q *QGemm) Name() string { return "qgemm " + q.p.String() }

// Corr fills dst[:NP()] with the per-column int32 terms of the output stage:
// bias[j] - za*colsum[j] (bias nil for zeros; za is the activation zero point on the
// stored 0..255 grid), which turns sum(a*w) into sum((a-za)*w) + bias.
func (q *QGemm) Corr(dst []int32, bias []int32, za int32) {
	dst = dst[:q.NP()]
	for j := range dst {
		var b int32
		if bias != nil && j < q.n {
			b = bias[j]
		}
		dst[j] = b - za*q.colsum[j]
		if q.p.neon() {
			dst[j] += 128 * q.colsum[j] // NEON's A holds a-128
		}
	}
}

// Quantize writes rows of src (row stride lds floats, k values each) to dst in the
// kernel's A layout, LDA() bytes per row, as ONNX QuantizeLinear onto the stored grid:
// clamp(roundHalfEven(x/scale) + zp, 0, 255) (a NaN goes to 0). dst must hold
// rows*LDA() bytes.
func (q *QGemm) Quantize(dst []byte, src []float32, rows, lds int, scale float32, zp int32) {
	lda, ab := q.LDA(), q.p.abytes()
	for i := 0; i < rows; i++ {
		d := dst[i*lda : (i+1)*lda]
		q.QuantizeFlat(d, src[i*lds:i*lds+q.k], scale, zp)
		clear(d[q.k*ab:])
	}
}

// ZeroElem is the stored form of the value zp (a conv's padding taps): its low byte;
// the high byte of a 2-byte element is 0.
func (q *QGemm) ZeroElem(zp int32) byte {
	if q.p.neon() {
		return byte(zp) ^ 0x80
	}
	return byte(zp)
}

// ElemBytes is the bytes of one quantized A element (1, or 2 for the widening kernel).
func (q *QGemm) ElemBytes() int { return q.p.abytes() }

// QuantizeFlat writes src quantized as Quantize does to dst, ElemBytes() each, with no
// row padding (a conv's input plane, gathered into rows afterwards).
func (q *QGemm) QuantizeFlat(dst []byte, src []float32, scale float32, zp int32) {
	lo, hi := float32(-zp), float32(255-zp)
	ab := q.p.abytes()
	dst = dst[:ab*len(src)]
	i := 0
	if q.p != qGeneric {
		i = quantizeKernel(ab, dst, src, scale, lo, hi, zp)
	}
	if q.p.neon() {
		for ; i < len(src); i++ {
			dst[i] = byte(QuantizeValue(src[i], scale, lo, hi)+zp) ^ 0x80 // int8(a-128)
		}
		return
	}
	if ab == 1 {
		for ; i < len(src); i++ {
			dst[i] = byte(QuantizeValue(src[i], scale, lo, hi) + zp)
		}
		return
	}
	for ; i < len(src); i++ {
		dst[2*i] = byte(QuantizeValue(src[i], scale, lo, hi) + zp)
		dst[2*i+1] = 0
	}
}

// FakeQuant is dst[i] = float32(QuantizeValue(src[i], scale, lo, hi)) * scale, ONNX
// QuantizeLinear then DequantizeLinear (lo, hi: the type's limits less the zero point).
func FakeQuant(isa ISA, dst, src []float32, scale, lo, hi float32) {
	dst = dst[:len(src)]
	i := 0
	if isa != Generic {
		i = fakeQuantKernel(dst, src, scale, lo, hi)
	}
	for ; i < len(src); i++ {
		dst[i] = float32(QuantizeValue(src[i], scale, lo, hi)) * scale
	}
}

// QuantizeValue is roundHalfEven(clamp(x/scale, lo, hi)) for integer lo, hi within
// +-2^22 (a NaN gives lo): MLAS's order (divide, clamp, round), so ORT's bits.
func QuantizeValue(x, scale, lo, hi float32) int32 {
	v := x / scale
	if !(v >= lo) {
		v = lo
	}
	if v > hi {
		v = hi
	}
	// adding and removing 1.5*2^23 rounds |v| < 2^22 to an integer, ties to even
	const magic = 12582912
	v = (v + magic) - magic
	return int32(v)
}

// Requant computes, for the m rows of A (Quantize's layout) against the packed weights,
// c[i*ldc+j] = float32(q) * sy with q = roundHalfEven(clamp(float32(sum+corr[j]) *
// scale[j], lo, hi)), sum = sum over p of a[i][p]*w[p][j]: the requantized output with
// its zero point removed (lo/hi are the output type's limits minus the zero point,
// raised to 0 for a fused ReLU). corr and scale hold NP() values.
func (q *QGemm) Requant(m int, a []byte, c []float32, ldc int, corr []int32, scale []float32, lo, hi, sy float32) {
	q.run(true, m, a, c, ldc, corr, scale, nil, lo, hi, sy)
}

// RequantPool is Requant of a fused 2x2 max pool: output row i is the output stage of
// the largest sum of A rows 4i..4i+3 (the stage is monotone: corr is per column and
// scale positive, so the max commutes with it and with the clamp and rounding). m must
// be a multiple of 4; c gets m/4 rows.
func (q *QGemm) RequantPool(m int, a []byte, c []float32, ldc int, corr []int32, scale []float32, lo, hi, sy float32) {
	if m%4 != 0 {
		panic(fmt.Sprintf("asm.QGemm.RequantPool: m=%d not a multiple of 4", m))
	}
	if m <= 0 {
		return
	}
	np := q.NP()
	if ldc < q.n || len(a) < m*q.LDA() || len(c) < (m/4-1)*ldc+q.n || len(corr) < np || len(scale) < np {
		panic(fmt.Sprintf("asm.QGemm: bad shape m=%d n=%d ldc=%d len(a)=%d len(c)=%d len(corr)=%d len(scale)=%d",
			m, q.n, ldc, len(a), len(c), len(corr), len(scale)))
	}
	if qgemmPoolKernel(q, m, a, c, ldc, corr, scale, lo, hi, sy) {
		return
	}
	qgemmPoolGo(q, m, a, c, ldc, corr, scale, lo, hi, sy)
}

// RequantBytes is Requant writing each output as the stored A element the same path
// reads: q + zp (q as in Requant; zp the output zero point on the stored 0..255 grid)
// as a byte (NEON: xor 0x80, its int8(a-128)), or as a little-endian u16 on the
// widening AVX2 path; ldc counts elements.
// It writes the quantized plane the next int8 conv of the same path reads. Only where
// BytesOut holds.
func (q *QGemm) RequantBytes(m int, a []byte, c []byte, ldc int, corr []int32, scale []float32, lo, hi float32, zp int32) {
	q.requantBytes(false, m, a, c, ldc, corr, scale, lo, hi, zp)
}

// RequantPoolBytes is RequantPool writing stored elements, as RequantBytes.
func (q *QGemm) RequantPoolBytes(m int, a []byte, c []byte, ldc int, corr []int32, scale []float32, lo, hi float32, zp int32) {
	q.requantBytes(true, m, a, c, ldc, corr, scale, lo, hi, zp)
}

// BytesOut reports whether RequantBytes and RequantPoolBytes run on q's path: a kernel
// stores its A elements (AVX512-VNNI; AVX-VNNI for n a multiple of 4 and the widening
// AVX2 kernel for n even, their last column block storing whole dwords; NEON's a-128
// after its tiles), or q's path is the plain-Go one.
func (q *QGemm) BytesOut() bool {
	switch q.p {
	case qVNNI512, qGeneric:
		return true
	case qAVXVNNI:
		return q.n%4 == 0
	case qAVX2:
		return q.n%2 == 0
	case qNEON, qNEONMull:
		return true // in Go after the tile kernels
	}
	return false
}

// SamePath reports whether o reads A elements in q's format (a plane q's RequantBytes
// wrote).
func (q *QGemm) SamePath(o *QGemm) bool { return q.p == o.p }

func (q *QGemm) requantBytes(pool bool, m int, a []byte, c []byte, ldc int, corr []int32, scale []float32, lo, hi float32, zp int32) {
	if !q.BytesOut() || (pool && m%4 != 0) || zp < 0 || zp > 255 {
		panic(fmt.Sprintf("asm.QGemm: bytes output on %v, m=%d pool=%v zp=%d", q.p, m, pool, zp))
	}
	if m <= 0 {
		return
	}
	mo, np, eb := m, q.NP(), q.p.abytes()
	if pool {
		mo = m / 4
	}
	if ldc < q.n || len(a) < m*q.LDA() || len(c) < ((mo-1)*ldc+q.n)*eb || len(corr) < np || len(scale) < np {
		panic(fmt.Sprintf("asm.QGemm: bad shape m=%d n=%d ldc=%d len(a)=%d len(c)=%d len(corr)=%d len(scale)=%d",
			m, q.n, ldc, len(a), len(c), len(corr), len(scale)))
	}
	if qgemmBytesKernel(q, pool, m, a, c, ldc, corr, scale, lo, hi, zp) {
		return
	}
	step := 1
	if pool {
		step = 4
	}
	for j := 0; j < q.n; j++ {
		for i := 0; i < m; i += step {
			s := qdot(q, a, i, j, corr)
			for r := i + 1; r < i+step; r++ {
				s = max(s, qdot(q, a, r, j, corr))
			}
			f := min(max(float32(s)*scale[j], lo), hi)
			const magic = 12582912
			o := (i/step*ldc + j) * eb
			c[o] = byte(int32((f+magic)-magic) + zp)
			if eb == 2 {
				c[o+1] = 0
			}
		}
	}
}

// PoolFused reports whether RequantPool pays over Requant and a separate pool: it has a
// kernel on q's path (NEON's takes the window max after its tiles), or q's path is the
// plain-Go one anyway.
func (q *QGemm) PoolFused() bool { return qgemmPoolAsm(q.p) || q.p == qGeneric }

// Float computes c[i*ldc+j] = clamp(float32(sum+corr[j])*scale[j] + bias[j], lo, hi)
// (the product and the sum rounded separately, as ORT's MatMulInteger, Cast, Mul, Add
// chain does): the dequantized output of dynamic quantization.
func (q *QGemm) Float(m int, a []byte, c []float32, ldc int, corr []int32, scale, bias []float32, lo, hi float32) {
	q.run(false, m, a, c, ldc, corr, scale, bias, lo, hi, 0)
}

func (q *QGemm) run(round bool, m int, a []byte, c []float32, ldc int, corr []int32, scale, bias []float32, lo, hi, sy float32) {
	if m <= 0 {
		return
	}
	np := q.NP()
	if ldc < q.n || len(a) < m*q.LDA() || len(c) < (m-1)*ldc+q.n || len(corr) < np || len(scale) < np || (!round && len(bias) < np) {
		panic(fmt.Sprintf("asm.QGemm: bad shape m=%d n=%d ldc=%d len(a)=%d len(c)=%d len(corr)=%d len(scale)=%d len(bias)=%d",
			m, q.n, ldc, len(a), len(c), len(corr), len(scale), len(bias)))
	}
	if qgemmKernel(q, round, m, a, c, ldc, corr, scale, bias, lo, hi, sy) {
		return
	}
	qgemmGo(q, round, m, a, c, ldc, corr, scale, bias, lo, hi, sy)
}

// qdot is row i of A times column j of the packed weights, plus corr[j].
func qdot(q *QGemm, a []byte, i, j int, corr []int32) int32 {
	g, nr, lda, ab := q.p.grp(), q.p.nr(), q.LDA(), q.p.abytes()
	blk := q.packed[j/nr*q.kg*nr*4:]
	lane := j % nr
	ar := a[i*lda : (i+1)*lda]
	s := corr[j]
	for kg := 0; kg < q.kg; kg++ {
		w := blk[(kg*nr+lane)*4:]
		for t := 0; t < g; t++ {
			var av, wv int32
			switch {
			case q.p.neon():
				av, wv = int32(int8(ar[kg*4+t])), int32(int8(w[t]))
			case ab == 1:
				av, wv = int32(ar[kg*4+t]), int32(int8(w[t]))
			default:
				av = int32(uint16(ar[kg*4+2*t]) | uint16(ar[kg*4+2*t+1])<<8)
				wv = int32(int16(uint16(w[2*t]) | uint16(w[2*t+1])<<8))
			}
			s += av * wv
		}
	}
	return s
}

// qgemmPoolGo is RequantPool in plain Go over every path's layout.
func qgemmPoolGo(q *QGemm, m int, a []byte, c []float32, ldc int, corr []int32, scale []float32, lo, hi, sy float32) {
	for j := 0; j < q.n; j++ {
		for i := 0; i < m; i += 4 {
			s := qdot(q, a, i, j, corr)
			for r := i + 1; r < i+4; r++ {
				s = max(s, qdot(q, a, r, j, corr))
			}
			c[i/4*ldc+j] = qout(true, s, scale[j], lo, hi, sy, nil, j)
		}
	}
}

// qgemmGo is the plain-Go form of every path's kernel over its layout, bit for bit.
func qgemmGo(q *QGemm, round bool, m int, a []byte, c []float32, ldc int, corr []int32, scale, bias []float32, lo, hi, sy float32) {
	for j := 0; j < q.n; j++ {
		for i := 0; i < m; i++ {
			c[i*ldc+j] = qout(round, qdot(q, a, i, j, corr), scale[j], lo, hi, sy, bias, j)
		}
	}
}

// qout is the output stage of one element.
func qout(round bool, s int32, scale, lo, hi, sy float32, bias []float32, j int) float32 {
	f := float32(s) * scale
	if round {
		f = max(f, lo) // integer limits: a NaN cannot arise from an int32 times a finite scale
		f = min(f, hi)
		const magic = 12582912
		f = (f + magic) - magic
		return float32(f * sy)
	}
	f = float32(f) + bias[j]
	return min(max(f, lo), hi)
}

// CopyRuns copies len(offs) runs of move bytes, run i from src[i*step:] to
// dst[offs[i]:] (an int8 conv's im2col: whole tap rows), in 32-byte vectors where the
// CPU has AVX2 and move is a multiple of 32. It panics when a run passes the end of
// dst or src.
func CopyRuns(dst []byte, offs []int, src []byte, step, move int) {
	if len(offs) == 0 || move <= 0 {
		return
	}
	for _, o := range offs {
		if o < 0 || o+move > len(dst) {
			panic(fmt.Sprintf("asm.CopyRuns: run at %d of %d bytes past %d", o, move, len(dst)))
		}
	}
	if step < 0 || (len(offs)-1)*step+move > len(src) {
		panic(fmt.Sprintf("asm.CopyRuns: %d runs of %d bytes, step %d, past %d", len(offs), move, step, len(src)))
	}
	if move%32 == 0 && copyRunsKernel(dst, offs, src, step, move) {
		return
	}
	for i, o := range offs {
		copy(dst[o:o+move], src[i*step:])
	}
}

// Thin1Pool writes the A rows (12 bytes: 9 taps, then 3 zeros) of a one-channel 3x3
// stride-1 conv without padding over a w-wide plane of stored bytes, for the ph x pw
// windows of a fused 2x2 max pool, in RequantPool's order: window (py, px) holds
// outputs (2py+dy, 2px+dx) for (dy, dx) = (0,0), (0,1), (1,0), (1,1), each row the
// taps (ky, kx) at src[(2py+dy+ky)*w + 2px+dx+kx]. It reports false (writing nothing)
// where the CPU has no kernel for it; it panics when the windows pass dst or src.
func Thin1Pool(dst, src []byte, w, ph, pw int) bool {
	if ph <= 0 || pw <= 0 {
		return true
	}
	if w < 2*pw+2 || len(dst) < ph*pw*48 || len(src) < (2*ph+1)*w+2*pw+2 {
		panic(fmt.Sprintf("asm.Thin1Pool: %dx%d windows on width %d, len(dst)=%d len(src)=%d", ph, pw, w, len(dst), len(src)))
	}
	return thin1PoolKernel(dst, src, w, ph, pw)
}
