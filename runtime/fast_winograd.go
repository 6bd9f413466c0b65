package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastWinograd runs a stride-1 3x3 Conv2D as Winograd F(4x4, 3x3) or F(2x2, 3x3) (see
// asm.WinogradF2x2In, asm.WinogradF4x4In): per chunk of m x m output tiles, the input
// transform of their (m+2) x (m+2) windows (read from a zero-bordered copy of the
// sample), one GEMM per transformed position (tiles x In times In x Filters) and the
// output transform with bias and clamp written straight into the NHWC output (through a
// padded buffer when m does not divide the map). F(4x4) does 36 instead of 144
// multiply-adds per 4x4 block and channel pair, F(2x2) 16 instead of 36; F(2x2) is used
// for small maps (fewer than winogradMinTiles4 4x4 tiles), where the 36 GEMMs would get
// too few rows.
//
// Error: the transforms add, subtract and scale by small constants, so the result is
// within a small multiple of the im2col GEMM's bound, larger for F(4x4); the bound is
// stated and tested in fast_winograd_test.go.
type fastWinograd struct {
	isa, gisa    asm.ISA // transforms, GEMM
	l            *layers.Conv2D
	m, np        int // output tile (2 or 4), transformed positions per tile ((m+2)^2)
	h, w, c, n   int
	oh, ow       int
	padT, padL   int
	th, tw       int // tiles per column / row
	hp, wp       int // zero-bordered input extent (m*th+2, m*tw+2)
	packed       []float32
	plen         int       // packed floats per position
	bias         []float32 // n values
	lo, hi       float32
	post         layers.Activation
	inOffs       []int // per tile of a sample: window offset in the padded input
	outOffs      []int // per tile: block offset in the output (or the padded output)
	direct       bool  // oh, ow even: blocks go straight into dst
	chunk        int   // tiles per transform/GEMM pass
	group        int   // samples per pass (> 1 for small maps: their tiles share the GEMMs)
	padLen, oLen int
}

// winogradBudget bounds a chunk's transformed input and GEMM output (floats) so they
// stay in L2 between the transforms and the GEMMs.
const winogradBudget = 1 << 15

// winogradMinChannels is the smallest In and Filters sent through Winograd: below it the
// 16 GEMMs of depth In are too short for the transforms to pay off.
const winogradMinChannels = 16

func newFastWinograd(l *layers.Conv2D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if len(in) != 3 || max(l.Groups, 1) != 1 || l.KH != 3 || l.KW != 3 || l.SH != 1 || l.SW != 1 || l.DH != 1 || l.DW != 1 {
		return compiled{}, false
	}
	h, w, c, n := in[0], in[1], in[2], l.Filters
	if c != l.In || c%8 != 0 || n%8 != 0 || c < winogradMinChannels || n < winogradMinChannels || !asm.WinogradF2x2Vector(isa) || len(l.W) != 9*c*n {
		return compiled{}, false
	}
	oh, ow, pt, pl, err := l.Geometry(h, w)
	if err != nil || oh < 2 || ow < 2 {
		// a single output row or column would waste half of every 2x2 tile: F(2x2)'s 16
		// products per tile and channel pair for 2 outputs beat im2col's 18 by too little
		return compiled{}, false
	}
	m := winogradTile(oh, ow)
	k := &fastWinograd{isa: isa, gisa: gemmISA(isa, n), l: l, m: m, np: (m + 2) * (m + 2),
		h: h, w: w, c: c, n: n, oh: oh, ow: ow, padT: pt, padL: pl}
	k.th, k.tw = (oh+m-1)/m, (ow+m-1)/m
	k.hp, k.wp = m*k.th+2, m*k.tw+2
	k.direct = oh%m == 0 && ow%m == 0
	ors := ow * n // output row stride
	if !k.direct {
		ors = m * k.tw * n
		k.oLen = m * k.th * ors
	}
	k.padLen = k.hp * k.wp * c
	// tiles per pass: at least 8 (one full AVX-512 row tile per GEMM), more while the
	// transformed tiles fit the budget; a small map with every block inside the output
	// takes several samples per pass
	np := (m + 2) * (m + 2)
	tps := k.th * k.tw
	budget := max(8, winogradBudget/(np*(c+n)))
	k.group, k.chunk = 1, min(tps, budget)
	if k.direct && tps < budget {
		k.group = min(64, budget/tps)
		k.chunk = k.group * tps
	}
	for j := 0; j < k.group; j++ {
		for ty := 0; ty < k.th; ty++ {
			for tx := 0; tx < k.tw; tx++ {
				k.inOffs = append(k.inOffs, j*k.padLen+(m*ty*k.wp+m*tx)*c)
				k.outOffs = append(k.outOffs, j*oh*ow*n+m*ty*ors+m*tx*n)
			}
		}
	}
	u := make([]float32, k.np*c*n)
	if m == 4 {
		asm.WinogradF4x4Weights(u, l.W, c, n)
	} else {
		asm.WinogradF2x2Weights(u, l.W, c, n)
	}
	k.plen = asm.PackedLen(k.gisa, c, n)
	k.packed = make([]float32, k.np*k.plen)
	for p := 0; p < k.np; p++ {
		asm.PackB(k.gisa, k.packed[p*k.plen:(p+1)*k.plen], c, n, u[p*c*n:(p+1)*c*n], nil)
	}
	k.bias = make([]float32, n)
	if l.B != nil {
		copy(k.bias, l.B)
	}
	if lo, hi, ok := fusedClamp(l.Act); ok {
		k.lo, k.hi, k.post = lo, hi, layers.ActLinear
	} else {
		k.lo, k.hi, k.post = float32(math.Inf(-1)), float32(math.Inf(1)), l.Act
	}
	name := "conv2d winograd F(" + itoa(m) + "x" + itoa(m) + ",3x3) gemm/" + k.gisa.String()
	if k.post.Kind == layers.Linear {
		name += " (bias+clamp fused)"
	} else {
		name += " + " + k.post.String()
	}
	return compiled{k: k, name: name, scratchLen: k.group*k.padLen + k.chunk*k.np*(c+n) + k.oLen}, true
}

// winogradMinTiles4 is the fewest 4x4 output tiles per sample for which F(4x4, 3x3) is
// chosen over F(2x2, 3x3). At 4 (maps of 5x5 to 8x8) F(4x4) needs no more products than
// F(2x2) and fewer from 7x7 up (cifar_cnn's 8x8x128 layers: 168 -> 151 us at batch 1);
// below it the 36 GEMMs get a row or two each.
var winogradMinTiles4 = 4

// winogradTile picks the output tile (4: F(4x4,3x3), 2: F(2x2,3x3)) for an oh x ow map.
func winogradTile(oh, ow int) int {
	if ((oh+3)/4)*((ow+3)/4) >= winogradMinTiles4 {
		return 4
	}
	return 2
}

func (k *fastWinograd) run(dst, src, scratch []float32, batch int) {
	k.runOn(nil, dst, src, nil, scratch, batch, nil)
}

// runRes is run with the residual epilogue e applied to each chunk's output blocks.
func (k *fastWinograd) runRes(dst, src, res, scratch []float32, batch int, e *epilogue) {
	k.runOn(nil, dst, src, res, scratch, batch, e)
}

// runOn is run, with each pass's tile chunks split across t when t is not nil, and the
// residual epilogue e (nil: none) applied to each chunk's output blocks (t is nil then).
func (k *fastWinograd) runOn(t *team, dst, src, res, scratch []float32, batch int, e *epilogue) {
	c, n := k.c, k.n
	pads := scratch[:k.group*k.padLen]
	rowLen := k.wp * c
	x0, x1 := k.padL*c, (k.padL+k.w)*c // input columns inside a padded row
	npix := k.oh * k.ow
	for b := 0; b < batch; b += k.group {
		g := min(k.group, batch-b)
		ntiles := g * k.th * k.tw
		for j := 0; j < g; j++ {
			x := src[(b+j)*k.h*k.w*c : (b+j+1)*k.h*k.w*c]
			pad := pads[j*k.padLen : (j+1)*k.padLen]
			// zero-bordered copy: only the border is cleared
			for py := 0; py < k.hp; py++ {
				row := pad[py*rowLen : (py+1)*rowLen]
				iy := py - k.padT
				if iy < 0 || iy >= k.h {
					clear(row)
					continue
				}
				clear(row[:x0])
				copy(row[x0:x1], x[iy*k.w*c:(iy+1)*k.w*c])
				clear(row[x1:])
			}
		}
		y := dst[b*npix*n : (b+g)*npix*n]
		var r []float32
		if e != nil {
			r = res[b*npix*n : (b+g)*npix*n]
		}
		chunks := (ntiles + k.chunk - 1) / k.chunk
		if t != nil && chunks > 1 && 2*ntiles*k.np*c*n >= parMinFLOPs {
			t.runTasks(k, chunks, y, nil, scratch, g, ntiles, 0)
		} else {
			for i := 0; i < chunks; i++ {
				k.chunkTask(y, r, scratch, g, ntiles, i, 0, e)
			}
		}
		if !k.direct {
			// the blocks went to a padded buffer: the copy out is the epilogue's pass
			ob := scratch[k.group*k.padLen+k.chunk*k.np*(c+n):][:k.oLen]
			ors := k.m * k.tw * n
			for oy := 0; oy < k.oh; oy++ {
				yr, or := y[oy*k.ow*n:(oy+1)*k.ow*n], ob[oy*ors:]
				if e != nil {
					e.apply(yr, or, r[oy*k.ow*n:])
				} else {
					copy(yr, or)
				}
			}
		}
		if k.post.Kind != layers.Linear {
			applyActivation(k.isa, k.post, y, n)
		}
	}
}

// chunkTask runs tile chunk i of a pass over g samples (ntiles tiles) into y: the input
// transform, one GEMM per transformed position and the output transform. Worker w > 0
// uses its own transform buffers past the serial scratch (forTeam).
func (k *fastWinograd) chunkTask(y, res, scratch []float32, g, ntiles, i, w int, e *epilogue) {
	c, n, np := k.c, k.n, k.np
	off := k.group * k.padLen
	pad := scratch[:g*k.padLen]
	ob := scratch[off+k.chunk*np*(c+n):][:k.oLen]
	if w > 0 {
		off += k.chunk*np*(c+n) + k.oLen + (w-1)*k.chunk*np*(c+n)
	}
	v := scratch[off : off+k.chunk*np*c]
	m := scratch[off+k.chunk*np*c : off+k.chunk*np*(c+n)]
	out, ors := y, k.ow*n
	if !k.direct {
		out, ors = ob, k.m*k.tw*n
	}
	rowLen := k.wp * c
	t0 := i * k.chunk
	nt := min(k.chunk, ntiles-t0)
	if k.m == 4 {
		asm.WinogradF4x4In(k.isa, v, pad, k.inOffs[t0:t0+nt], c, rowLen)
	} else {
		asm.WinogradF2x2In(k.isa, v, pad, k.inOffs[t0:t0+nt], c, rowLen)
	}
	for p := 0; p < np; p++ {
		asm.Gemm(k.gisa, nt, n, c, v[p*c:], np*c, k.packed[p*k.plen:(p+1)*k.plen], m[p*n:], np*n,
			float32(math.Inf(-1)), float32(math.Inf(1)))
	}
	switch {
	case k.m == 4 && e != nil && k.direct && e.post.Kind == layers.Linear:
		// the residual sum and its clamp in the output transform's store
		asm.WinogradF4x4OutAdd(k.isa, out, m, k.outOffs[t0:t0+nt], k.bias, res, n, ors, e.lo, e.hi)
		return
	case k.m == 4:
		asm.WinogradF4x4Out(k.isa, out, m, k.outOffs[t0:t0+nt], k.bias, n, ors, k.lo, k.hi)
	default:
		asm.WinogradF2x2Out(k.isa, out, m, k.outOffs[t0:t0+nt], k.bias, n, ors, k.lo, k.hi)
	}
	if e != nil && k.direct {
		k.blocksEpilogue(y, res, k.outOffs[t0:t0+nt], e)
	}
}

// blocksEpilogue applies e to the m x m output blocks at offs of y (just written, so
// in cache), one call per block row of each run of blocks side by side in a row.
func (k *fastWinograd) blocksEpilogue(y, res []float32, offs []int, e *epilogue) {
	bw, ors := k.m*k.n, k.ow*k.n
	for i := 0; i < len(offs); {
		o, j := offs[i], i+1
		for j < len(offs) && offs[j] == offs[j-1]+bw {
			j++
		}
		w := (j - i) * bw
		for r := 0; r < k.m; r++ {
			q := o + r*ors
			e.apply(y[q:q+w], y[q:q+w], res[q:q+w])
		}
		i = j
	}
}

// parTask runs tile chunk i (region: y, scratch, batch = samples in the pass, a = tiles).
func (k *fastWinograd) parTask(r *region, i, w int) {
	k.chunkTask(r.dst, nil, r.scratch, r.batch, r.a, i, w, nil)
}

func (k *fastWinograd) runPar(t *team, dst, src, scratch []float32, batch int) {
	k.runOn(t, dst, src, nil, scratch, batch, nil)
}

// forTeam gives every worker but the caller its own transform buffers and, for a
// single-pass map, smaller chunks (at least 8 tiles) so a sample's tiles split; the
// chunk size changes no value (the transforms are per tile, GEMM rows independent).
func (k *fastWinograd) forTeam(workers, _, sc int) (parKernel, int) {
	q := *k
	tps := k.th * k.tw
	if k.group == 1 && tps >= 16 {
		q.chunk = min(k.chunk, max(8, (tps+2*workers-1)/(2*workers)))
	}
	return &q, sc + (workers-1)*q.chunk*q.np*(q.c+q.n)
}
