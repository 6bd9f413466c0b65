package runtime

import (
	"encoding/binary"
	"math"
	"reflect"
	"unsafe"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// The int8 layers' kernels: quantize the float32 input (held dequantized, see
// layers/quant.go) into the GEMM's A layout in scratch, then one int8 GEMM with the
// requantizing output stage. Same bits as the layers' reference passes.

// qgemmLayer is the packed int8 GEMM of a QLinear and its per-column output terms.
type qgemmLayer struct {
	q          *asm.QGemm
	corr       []int32
	mult       []float32
	lo, hi, sy float32
	inScale    float32
	za         int32 // input zero point on the stored 0..255 grid
	k, n       int
	in, out    layers.QParams
}

func newQGemmLayer(ql *layers.QLinear, k, n int, isa asm.ISA) (*qgemmLayer, bool) {
	q, err := asm.NewQGemm(isa, k, n, ql.W)
	if err != nil {
		return nil, false
	}
	g := &qgemmLayer{q: q, k: k, n: n, inScale: ql.In.Scale, za: ql.In.ZP - ql.In.Type.Lo, sy: ql.Out.Scale, in: ql.In, out: ql.Out}
	g.corr = make([]int32, q.NP())
	q.Corr(g.corr, ql.Bias, g.za)
	g.mult = make([]float32, q.NP())
	for j := 0; j < n; j++ {
		g.mult[j] = ql.Mult(j)
	}
	g.lo, g.hi = ql.OutRange()
	return g, true
}

// bytesOf views float32 scratch as bytes.
func bytesOf(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

func floatsFor(bytes int) int { return (bytes + 3) / 4 }

type fastQDense struct {
	*qgemmLayer
	rowsPerSample int
}

func newFastQDense(l *layers.QDense, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	g, ok := newQGemmLayer(&l.QLinear, l.K, l.Units, isa)
	if !ok {
		return compiled{}, false
	}
	k := &fastQDense{qgemmLayer: g, rowsPerSample: in.Size() / l.K}
	return compiled{k: k, name: "int8 dense " + g.q.Name(), scratchLen: floatsFor(maxBatch * k.rowsPerSample * g.q.LDA())}, true
}

func (k *fastQDense) run(dst, src, scratch []float32, batch int) {
	rows := batch * k.rowsPerSample
	a := bytesOf(scratch)[:rows*k.q.LDA()]
	k.q.Quantize(a, src, rows, k.k, k.inScale, k.za)
	k.q.Requant(rows, a, dst, k.n, k.corr, k.mult, k.lo, k.hi, k.sy)
}

// fastQConv is an int8 convolution by im2col: per sample, the input plane is quantized
// once, gathered into rows of KH*KW*C taps (padding taps hold the zero point), and
// multiplied in one GEMM. With a 2x2 max pool fused after it (fuseQConvPool), the rows
// are gathered in pool-window order and the GEMM's output stage takes each window's
// max, so only the conv outputs the pool reads are computed and none is stored.
type fastQConv struct {
	*qgemmLayer
	l                       *layers.Window
	h, w, c, oh, ow, pt, pl int
	plane                   int // bytes of the quantized input plane
	move, oxLo, oxHi        int // shortMoves' width (0: none) and its ox range
	// the conv outputs computed (uh x uw) and A's row of output (oy, ox):
	// rowY[oy] + colX[ox]; colX is increasing
	uh, uw     int
	rowY, colX []int
	colOff     []int // colX[ox]*LDA, the bytes shortMoves adds per ox
	pool       bool  // RequantPool: rows in 2x2 window order, uh*uw/4 outputs
	thin1      bool  // one channel of bytes, 3x3, stride 1: im2colThin1
	// next: the conv this one's output feeds (fuseQConvChain), run in the same step;
	// this one stores its output as bytes in next's plane, next's scratch region
	// starting at byte nextOff of this one's
	next    *fastQConv
	nextOff int
}

func newFastQConv(l *layers.QConv2D, in layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
	if len(in) != 3 {
		return compiled{}, false
	}
	g, ok := newQGemmLayer(&l.QLinear, l.KH*l.KW*in[2], l.Filters, isa)
	if !ok {
		return compiled{}, false
	}
	k, ok := newQConvGeom(g, l.Window, in)
	if !ok {
		return compiled{}, false
	}
	return compiled{k: k, name: "int8 conv im2col " + g.q.Name(), scratchLen: floatsFor(k.plane + k.oh*k.ow*g.q.LDA())}, true
}

// newQConvGeom is the im2col geometry of a conv with window w on input in.
func newQConvGeom(g *qgemmLayer, win layers.Window, in layers.Shape) (*fastQConv, bool) {
	oh, ow, pt, pl, err := win.Geometry(in[0], in[1])
	if err != nil {
		return nil, false
	}
	l := &win
	k := &fastQConv{qgemmLayer: g, l: l, h: in[0], w: in[1], c: in[2], oh: oh, ow: ow, pt: pt, pl: pl}
	k.plane = (k.h*k.w*k.c*g.q.ElemBytes() + 32 + 63) &^ 63 // 32: room for the moves' overreads
	if span := l.KW * in[2] * g.q.ElemBytes(); l.DW == 1 && span <= 256 {
		switch {
		case span <= 4:
			k.move = 4
		case span <= 8:
			k.move = 8
		case span > 32:
			k.move = (span + 31) &^ 31 // whole 32-byte vectors (asm.CopyRuns)
		default:
			k.move = (span + 15) &^ 15 // whole 16-byte vectors
		}
		// ox with every tap inside: ox*SW - pl >= 0 and ox*SW - pl + KW <= w
		k.oxLo = min((pl+l.SW-1)/l.SW, ow)
		k.oxHi = max(min(ow, (in[1]-l.KW+pl)/l.SW+1), k.oxLo)
	}
	k.thin1 = k.c == 1 && g.q.ElemBytes() == 1 && l.KH == 3 && l.KW == 3 && l.SH == 1 && l.SW == 1 && l.DH == 1 && l.DW == 1 && g.q.LDA() >= 12
	k.setRows(false)
	return k, true
}

// setRows lays out A's rows: raster order, or (pool) the 2x2 windows of the pool's
// outputs in raster order, each window's four outputs consecutive (an odd last conv
// row or column, which the pool drops, is not computed).
func (k *fastQConv) setRows(pool bool) {
	k.pool, k.uh, k.uw = pool, k.oh, k.ow
	if pool {
		k.uh, k.uw = k.oh&^1, k.ow&^1
	}
	k.rowY, k.colX, k.colOff = make([]int, k.uh), make([]int, k.uw), make([]int, k.uw)
	for oy := range k.rowY {
		k.rowY[oy] = oy * k.uw
		if pool {
			k.rowY[oy] = oy/2*2*k.uw + oy%2*2
		}
	}
	for ox := range k.colX {
		k.colX[ox] = ox
		if pool {
			k.colX[ox] = ox/2*4 + ox%2
		}
		k.colOff[ox] = k.colX[ox] * k.q.LDA()
	}
	k.oxHi = min(k.oxHi, k.uw)
	k.oxLo = min(k.oxLo, k.oxHi)
}

// im2col gathers the quantized plane into A: output (oy, ox)'s row holds the KH*KW
// taps of C elements, padding taps the zero point; the row's bytes past the taps are
// left as they are (any value: the packed weights there are zero). Loops run by (oy,
// ky) so the inner loop over ox is one move per tap row where the window is inside the
// input.
func (k *fastQConv) im2col(a, plane []byte, za int32) {
	if k.thin1 {
		k.im2colThin1(a, plane, za)
		return
	}
	l := k.l
	eb, lda := k.q.ElemBytes(), k.q.LDA()
	run := k.c * eb // bytes of one tap
	span := l.KW * run
	for oy := 0; oy < k.uh; oy++ {
		rows := a[k.rowY[oy]*lda:]
		for ky := 0; ky < l.KH; ky++ {
			iy := oy*l.SH + ky*l.DH - k.pt
			off := ky * span
			if iy < 0 || iy >= k.h {
				for _, co := range k.colOff {
					k.fillZP(rows[co+off:co+off+span], eb, za)
				}
				continue
			}
			src := plane[iy*k.w*run:]
			lo, hi := 0, 0                       // the ox whose taps are all inside the row, moved by short
			if k.move > 0 && off+k.move <= lda { // else the move would pass the row
				lo, hi = k.oxLo, k.oxHi
				if k.move%32 == 0 {
					asm.CopyRuns(rows[off:], k.colOff[lo:hi], src[lo*l.SW*run-k.pl*run:], l.SW*run, k.move)
				} else {
					shortMoves(rows[off:], src, k.colOff, lo, hi, l.SW*run, k.pl*run, k.move)
				}
			}
			for ox := 0; ox < k.uw; ox++ {
				if ox == lo && hi > lo {
					ox = hi - 1
					continue
				}
				ix0 := ox*l.SW - k.pl
				co := k.colOff[ox]
				d := rows[co+off : co+lda] // copyBytes may write past span, never past the row
				if l.DW == 1 && ix0 >= 0 && ix0+l.KW <= k.w {
					copyBytes(d, src[ix0*run:], span)
					continue
				}
				for kx := 0; kx < l.KW; kx++ {
					ix := ix0 + kx*l.DW
					if ix < 0 || ix >= k.w {
						k.fillZP(d[kx*run:(kx+1)*run], eb, za)
						continue
					}
					copy(d[kx*run:(kx+1)*run], src[ix*run:])
				}
			}
		}
	}
	// the bytes past the taps stay as they are: the packed weights there are zero
}

// im2colThin1 is im2col for a one-channel 3x3 stride-1 conv of bytes (a grayscale
// input layer), by 2x2 blocks of outputs: the block's four rows come from the 4x4 input
// patch under it, four 4-byte loads, each row built in a register (three 3-byte tap
// rows) and stored as 8 and 4 bytes, instead of twelve 4-byte moves. Blocks whose patch
// leaves the input, and an odd last row or column, take the per-tap path.
func (k *fastQConv) im2colThin1(a, plane []byte, za int32) {
	lda := k.q.LDA()
	if ph, pw := k.uh/2, k.uw/2; k.pool && lda == 12 && k.pt == 0 && k.pl == 0 && 2*ph+2 <= k.h && 2*pw+2 <= k.w &&
		asm.Thin1Pool(a, plane, k.w, ph, pw) { // every patch inside: one vector kernel
		return
	}
	_ = a[k.uh*k.uw*lda-1]
	_ = plane[k.h*k.w-1]
	ap, pp := unsafe.Pointer(&a[0]), unsafe.Pointer(&plane[0])
	for oy := 0; oy+1 < k.uh; oy += 2 {
		iy := oy - k.pt
		for ox := 0; ox+1 < k.uw; ox += 2 {
			ix := ox - k.pl
			if iy < 0 || iy+4 > k.h || ix < 0 || ix+4 > k.w {
				for r := range 4 {
					k.im2colRow(a, plane, oy+r/2, ox+r%2, za)
				}
				continue
			}
			// the patch is inside the plane and the rows inside a (uh*uw rows of lda >= 12)
			ps := unsafe.Add(pp, iy*k.w+ix)
			r0, r1 := *(*uint32)(ps), *(*uint32)(unsafe.Add(ps, k.w))
			r2, r3 := *(*uint32)(unsafe.Add(ps, 2*k.w)), *(*uint32)(unsafe.Add(ps, 3*k.w))
			y0, y1 := k.rowY[oy], k.rowY[oy+1]
			x0, x1 := k.colX[ox], k.colX[ox+1]
			thin1Row(unsafe.Add(ap, (y0+x0)*lda), r0, r1, r2)
			thin1Row(unsafe.Add(ap, (y0+x1)*lda), r0>>8, r1>>8, r2>>8)
			thin1Row(unsafe.Add(ap, (y1+x0)*lda), r1, r2, r3)
			thin1Row(unsafe.Add(ap, (y1+x1)*lda), r1>>8, r2>>8, r3>>8)
		}
		if k.uw%2 == 1 {
			k.im2colRow(a, plane, oy, k.uw-1, za)
			k.im2colRow(a, plane, oy+1, k.uw-1, za)
		}
	}
	if k.uh%2 == 1 {
		for ox := 0; ox < k.uw; ox++ {
			k.im2colRow(a, plane, k.uh-1, ox, za)
		}
	}
}

// thin1Row stores one row of im2colThin1: the low 3 bytes of t0, t1, t2 as 9 bytes
// (and 3 bytes of t2 past them, in the row's tail).
func thin1Row(d unsafe.Pointer, t0, t1, t2 uint32) {
	a, b, c := uint64(t0&0xffffff), uint64(t1&0xffffff), uint64(t2&0xffffff)
	*(*uint64)(d) = a | b<<24 | c<<48
	*(*uint32)(unsafe.Add(d, 8)) = uint32(c >> 16)
}

// im2colRow gathers output (oy, ox)'s row tap by tap.
func (k *fastQConv) im2colRow(a, plane []byte, oy, ox int, za int32) {
	l := k.l
	eb, lda := k.q.ElemBytes(), k.q.LDA()
	run := k.c * eb
	d := a[(k.rowY[oy]+k.colX[ox])*lda:]
	for ky := 0; ky < l.KH; ky++ {
		iy := oy*l.SH + ky*l.DH - k.pt
		for kx := 0; kx < l.KW; kx++ {
			t := d[(ky*l.KW+kx)*run : (ky*l.KW+kx+1)*run]
			ix := ox*l.SW + kx*l.DW - k.pl
			if iy < 0 || iy >= k.h || ix < 0 || ix >= k.w {
				k.fillZP(t, eb, za)
				continue
			}
			copy(t, plane[(iy*k.w+ix)*run:])
		}
	}
}

// shortMoves copies, for ox in [lo, hi), the move bytes at src[ox*step-back:] to
// dst[offs[ox]:] (offs increasing), unaligned: a thin conv's tap row (3 bytes of a one-channel 3x3 conv,
// 96 of a 32-channel one) in one 4- or 8-byte move or whole 16-byte vectors, no
// memmove call. The bytes past the tap row land in the next tap row, written later, or
// the row's tail (the caller checks the move stays in the row; the plane has 16 bytes
// of slack past its end, and a source run is never longer than 256 bytes: move-span <
// 16).
func shortMoves(dst, src []byte, offs []int, lo, hi, step, back, move int) {
	if hi <= lo {
		return
	}
	offs = offs[lo:hi]
	_ = dst[offs[len(offs)-1]+move-1]
	_ = src[(hi-1)*step-back+move-1]
	dp, sp := unsafe.Pointer(&dst[0]), unsafe.Pointer(unsafe.SliceData(src[lo*step-back:]))
	switch move {
	case 4:
		for i, o := range offs {
			*(*uint32)(unsafe.Add(dp, o)) = *(*uint32)(unsafe.Add(sp, i*step))
		}
	case 8:
		for i, o := range offs {
			*(*uint64)(unsafe.Add(dp, o)) = *(*uint64)(unsafe.Add(sp, i*step))
		}
	default: // up to 16 vectors (a [16]byte copy is one SSE load and store)
		for i, o := range offs {
			d, s := unsafe.Add(dp, o), unsafe.Add(sp, i*step)
			for w := 0; w < move; w += 16 {
				*(*[16]byte)(unsafe.Add(d, w)) = *(*[16]byte)(unsafe.Add(s, w))
			}
		}
	}
}

// fillZP fills padding taps with the zero point (little-endian u16 when eb is 2).
func (k *fastQConv) fillZP(d []byte, eb int, za int32) {
	for i := 0; i < len(d); i += eb {
		d[i] = k.q.ZeroElem(za)
		if eb == 2 {
			d[i+1] = 0
		}
	}
}

// copyBytes copies n bytes for the short runs of a thin conv's taps (a 3-byte row of
// a one-channel 3x3 conv), where memmove's call costs more than the bytes: a run of at
// most 8 is one 8-byte move when both sides have the room (the bytes past n in dst
// are rewritten by the next tap or the row's zero tail).
func copyBytes(dst, src []byte, n int) int {
	switch {
	case n > 8:
		return copy(dst[:n], src)
	case len(dst) >= 8 && len(src) >= 8:
		binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src))
	default:
		dst, src = dst[:n], src[:n]
		for i := range dst {
			dst[i] = src[i]
		}
	}
	return n
}

// fastFakeQuant rounds onto a quantization grid in place.
type fastFakeQuant struct {
	q   layers.QParams
	n   int // values per sample
	isa asm.ISA
}

func (k fastFakeQuant) run(dst, src, _ []float32, batch int) {
	lo, hi := float32(k.q.Type.Lo-k.q.ZP), float32(k.q.Type.Hi-k.q.ZP)
	asm.FakeQuant(k.isa, dst[:batch*k.n], src[:batch*k.n], k.q.Scale, lo, hi)
}

// fastDynQDense is DynQDense: the input's range, then quantize, then the int8 GEMM
// with the float output stage; per-call scales and zero-point terms live in scratch.
type fastDynQDense struct {
	l             *layers.DynQDense
	q             *asm.QGemm
	bias          []float32 // NP values
	rowsPerSample int
}

func newFastDynQDense(l *layers.DynQDense, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	q, err := asm.NewQGemm(isa, l.K, l.Units, l.W)
	if err != nil {
		return compiled{}, false
	}
	k := &fastDynQDense{l: l, q: q, bias: make([]float32, q.NP()), rowsPerSample: in.Size() / l.K}
	copy(k.bias, l.Bias)
	return compiled{k: k, name: "int8 dynamic dense " + q.Name(), scratchLen: 2*q.NP() + floatsFor(maxBatch*k.rowsPerSample*q.LDA())}, true
}

func (k *fastDynQDense) run(dst, src, scratch []float32, batch int) {
	rows := batch * k.rowsPerSample
	np := k.q.NP()
	x := src[:rows*k.l.K]
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	xs, zp := layers.DynRange(lo, hi)
	scale := scratch[:np]
	for j := range k.l.Units {
		scale[j] = xs * k.l.WScale[j]
	}
	corr := unsafe.Slice((*int32)(unsafe.Pointer(&scratch[np])), np)
	k.q.Corr(corr, nil, zp)
	a := bytesOf(scratch[2*np:])[:rows*k.q.LDA()]
	k.q.Quantize(a, x, rows, k.l.K, xs, zp)
	inf := float32(math.Inf(1))
	k.q.Float(rows, a, dst, k.l.Units, corr, scale, k.bias, -inf, inf)
}

// fastDynQConv is DynQConv2D: the input's range over the call, then per sample the
// quantized plane, im2col (padding at the call's zero point) and the int8 GEMM with
// the float output stage.
type fastDynQConv struct {
	*fastQConv
	l    *layers.DynQConv2D
	bias []float32 // NP values
}

func newFastDynQConv(l *layers.DynQConv2D, in layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
	if len(in) != 3 {
		return compiled{}, false
	}
	q, err := asm.NewQGemm(isa, l.KH*l.KW*in[2], l.Filters, l.W)
	if err != nil {
		return compiled{}, false
	}
	g := &qgemmLayer{q: q, k: l.KH * l.KW * in[2], n: l.Filters}
	c, ok := newQConvGeom(g, l.Window, in)
	if !ok {
		return compiled{}, false
	}
	k := &fastDynQConv{fastQConv: c, l: l, bias: make([]float32, q.NP())}
	copy(k.bias, l.Bias)
	return compiled{k: k, name: "int8 dynamic conv im2col " + q.Name(), scratchLen: 2*q.NP() + floatsFor(c.plane+c.oh*c.ow*q.LDA())}, true
}

func (k *fastDynQConv) run(dst, src, scratch []float32, batch int) {
	np, lda := k.q.NP(), k.q.LDA()
	in, out := k.h*k.w*k.c, k.oh*k.ow*k.n
	x := src[:batch*in]
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	xs, zp := layers.DynRange(lo, hi)
	scale := scratch[:np]
	for j := range k.n {
		scale[j] = xs * k.l.WScale[j]
	}
	corr := unsafe.Slice((*int32)(unsafe.Pointer(&scratch[np])), np)
	k.q.Corr(corr, nil, zp)
	buf := bytesOf(scratch[2*np:])
	plane, a := buf[:k.plane], buf[k.plane:k.plane+k.oh*k.ow*lda]
	inf := float32(math.Inf(1))
	for b := 0; b < batch; b++ {
		k.q.QuantizeFlat(plane, x[b*in:(b+1)*in], xs, zp)
		k.im2col(a, plane, zp)
		k.q.Float(k.oh*k.ow, a, dst[b*out:(b+1)*out], k.n, corr, scale, k.bias, -inf, inf)
	}
}

// fastKerasQDense is KerasQDense: per row the AbsMaxQuantizer's scale and int8 values
// (stored +128 on the uint8 grid), one int8 GEMM whose float stage gives float32(sum),
// then Keras's float32(sum)/(kernel_scale*s) + bias and the activation.
type fastKerasQDense struct {
	l             *layers.KerasQDense
	q             *asm.QGemm
	corr          []int32   // -128*colsum: the +128 shift of the int8 values
	ones, zeros   []float32 // NP values: the float stage's scale and bias
	rowsPerSample int
	isa           asm.ISA
}

func newFastKerasQDense(l *layers.KerasQDense, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	q, err := asm.NewQGemm(isa, l.In, l.Units, l.W)
	if err != nil {
		return compiled{}, false
	}
	k := &fastKerasQDense{l: l, q: q, corr: make([]int32, q.NP()), ones: make([]float32, q.NP()), zeros: make([]float32, q.NP()),
		rowsPerSample: in.Size() / l.In, isa: isa}
	q.Corr(k.corr, nil, 128)
	for j := range k.ones {
		k.ones[j] = 1
	}
	rows := maxBatch * k.rowsPerSample
	return compiled{k: k, name: "int8 keras dense " + q.Name(), scratchLen: rows + floatsFor(rows*q.LDA()) + rows*l.In}, true
}

func (k *fastKerasQDense) run(dst, src, scratch []float32, batch int) {
	rows := batch * k.rowsPerSample
	l := k.l
	s := scratch[:rows]
	qv := scratch[rows : rows+rows*l.In] // the int8 values + 128, then quantized below
	a := bytesOf(scratch[rows+rows*l.In:])[:rows*k.q.LDA()]
	for r := 0; r < rows; r++ {
		x := src[r*l.In : (r+1)*l.In]
		s[r] = layers.KerasRowScale(x)
		for p, v := range x {
			qv[r*l.In+p] = float32(layers.KerasQuantize(v, s[r]) + 128)
		}
	}
	// onto the GEMM's layout: the values are integers 1..255 on the uint8 grid, so
	// quantizing them at scale 1, zero point 0 is exact
	k.q.Quantize(a, qv, rows, l.In, 1, 0)
	inf := float32(math.Inf(1))
	k.q.Float(rows, a, dst, l.Units, k.corr, k.ones, k.zeros, -inf, inf)
	for r := 0; r < rows; r++ {
		y := dst[r*l.Units : (r+1)*l.Units]
		for j, f := range y {
			v := f / float32(l.KScale[j]*s[r])
			if l.B != nil {
				v = float32(v) + l.B[j]
			}
			y[j] = v
		}
	}
	applyActivation(k.isa, l.Act, dst[:rows*l.Units], l.Units)
}

// batchCoupled reports whether a kernel's result for a sample depends on the other
// samples of the call (dynamic quantization's range): such a model must not split a
// batch across threads.
func batchCoupled(c compiled) bool {
	switch k := c.k.(type) {
	case *fastDynQDense, *fastDynQConv:
		return true
	case refKernel:
		switch k.l.(type) {
		case *layers.DynQDense, *layers.DynQConv2D, *layers.DynFakeQuant:
			return true
		}
	}
	return false
}

// regQuant registers the int8 kernels (one line in kernels()).
func regQuant(t map[reflect.Type][]kernelEntry) {
	reg(t, func(l *layers.QDense, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastQDense(l, in, isa, mb)
	})
	reg(t, func(l *layers.QConv2D, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastQConv(l, in, isa, mb)
	})
	reg(t, func(l *layers.DynQDense, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastDynQDense(l, in, isa, mb)
	})
	reg(t, func(l *layers.RoundHalf, in, _ layers.Shape, _ asm.ISA, _ int) (compiled, bool) {
		c := referenceKernel(l, []layers.Shape{in}, 0) // element-wise, allocation-free
		c.name = "round to float16 go"
		return c, true
	})
	reg(t, func(l *layers.DynQConv2D, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastDynQConv(l, in, isa, mb)
	})
	reg(t, func(l *layers.KerasQDense, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastKerasQDense(l, in, isa, mb)
	})
	reg(t, func(l *layers.FakeQuant, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return compiled{k: fastFakeQuant{q: l.Q, n: in.Size(), isa: isa}, name: "fakequant", inPlace: true}, true
	})
}
