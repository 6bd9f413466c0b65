package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// Fast steps for the layers that move or rescale data without a GEMM: Permute
// (Keras Permute, ONNX Transpose, the channels_first layout changes), ZeroPadding2D
// (ONNX Pad), per-channel Affine (Rescaling, a BatchNormalization that could not be
// folded) and stand-alone activation layers (Softmax, ReLU, ...). Every plan is built at
// compile from the validated input shape; run does no division and allocates nothing.
// Permute, ZeroPadding2D, Affine and the ReLU / Clip / HardSigmoid / linear activations
// are bit-identical to the reference Forward; the other activations use the vector
// kernels of runtime/asm (applyActivation), within the ULP bounds asm states.

// permKind is the shape of a permutation once unit axes are dropped and axes that stay
// adjacent are merged.
type permKind uint8

const (
	permCopy      permKind = iota // the identity: one copy
	permTranspose                 // out is r x c, in is c x r
	permRows                      // rows of rowLen floats, each read at offs[i] with rowStride
)

// fastPermute is a Permute planned for one input shape.
type fastPermute struct {
	kind      permKind
	n         int // floats per sample
	r, c      int // permTranspose
	offs      []int32
	rowLen    int
	rowStride int
}

// permuteAxes returns the output axes of the permutation as (size, input stride) pairs,
// with unit axes dropped and each run of output axes that is contiguous in the input
// merged into one.
func permuteAxes(perm []int, in layers.Shape) (dims, strides []int) {
	inStride := make([]int, len(in))
	s := 1
	for i := len(in) - 1; i >= 0; i-- {
		inStride[i] = s
		s *= in[i]
	}
	for _, p := range perm {
		d, st := in[p], inStride[p]
		if d == 1 {
			continue
		}
		if k := len(dims); k > 0 && strides[k-1] == st*d {
			dims[k-1] *= d
			strides[k-1] = st
			continue
		}
		dims, strides = append(dims, d), append(strides, st)
	}
	return dims, strides
}

func newFastPermute(l *layers.Permute, in layers.Shape) (compiled, bool) {
	if _, err := l.OutputShape(in); err != nil {
		return compiled{}, false
	}
	n := in.Size()
	if n <= 0 || n > math.MaxInt32 {
		return compiled{}, false
	}
	k := &fastPermute{n: n}
	dims, strides := permuteAxes(l.Perm, in)
	last := len(dims) - 1
	switch {
	case last < 0 || (last == 0 && strides[0] == 1):
		k.kind = permCopy
		return compiled{k: k, name: "permute copy"}, true
	case last == 1 && strides[0] == 1 && strides[1] == dims[0]:
		k.kind, k.r, k.c = permTranspose, dims[0], dims[1]
		return compiled{k: k, name: "permute transpose go"}, true
	}
	// rows: one offset per output row (the output axes but the last), filled by an
	// odometer over those axes.
	k.kind, k.rowLen, k.rowStride = permRows, dims[last], strides[last]
	rows := n / k.rowLen
	k.offs = make([]int32, rows)
	var idx [8]int // len(dims) <= len(in) <= maxPermRank (8), checked by OutputShape
	off := 0
	for i := range k.offs {
		k.offs[i] = int32(off)
		for a := last - 1; a >= 0; a-- {
			idx[a]++
			off += strides[a]
			if idx[a] < dims[a] {
				break
			}
			off -= strides[a] * idx[a]
			idx[a] = 0
		}
	}
	return compiled{k: k, name: "permute rows go"}, true
}

func (k *fastPermute) run(dst, src, _ []float32, batch int) {
	n := k.n
	for b := 0; b < batch; b++ {
		x, y := src[b*n:(b+1)*n], dst[b*n:(b+1)*n]
		switch k.kind {
		case permCopy:
			copy(y, x)
		case permTranspose:
			transpose(y, x, k.r, k.c)
		case permRows:
			permuteRows(y, x, k.offs, k.rowLen, k.rowStride)
		}
	}
}

// transpose sets y[i*c+j] = x[j*r+i]: y is r x c, x is c x r.
func transpose(y, x []float32, r, c int) {
	y, x = y[:r*c], x[:r*c]
	switch {
	case c == 2:
		x0, x1 := x[:r], x[r:2*r]
		for i := range x0 {
			yy := y[2*i : 2*i+2 : 2*i+2]
			yy[0], yy[1] = x0[i], x1[i]
		}
	case c == 3:
		x0, x1, x2 := x[:r], x[r:2*r], x[2*r:3*r]
		for i := range x0 {
			yy := y[3*i : 3*i+3 : 3*i+3]
			yy[0], yy[1], yy[2] = x0[i], x1[i], x2[i]
		}
	case c == 4:
		x0, x1, x2, x3 := x[:r], x[r:2*r], x[2*r:3*r], x[3*r:4*r]
		for i := range x0 {
			yy := y[4*i : 4*i+4 : 4*i+4]
			yy[0], yy[1], yy[2], yy[3] = x0[i], x1[i], x2[i], x3[i]
		}
	case r <= 4:
		// few output rows: read each with stride r
		for i := 0; i < r; i++ {
			yr := y[i*c : (i+1)*c]
			o := i
			for j := range yr {
				yr[j] = x[o]
				o += r
			}
		}
	default:
		// blocks of output rows small enough that the strided writes stay in L1;
		// the reads are contiguous
		blk := max(4, 4096/c)
		for i0 := 0; i0 < r; i0 += blk {
			i1 := min(i0+blk, r)
			for j := 0; j < c; j++ {
				xs := x[j*r+i0 : j*r+i1]
				o := i0*c + j
				for _, v := range xs {
					y[o] = v
					o += c
				}
			}
		}
	}
}

// permuteRows sets row i of y (rowLen floats) to x[offs[i] + j*stride], j < rowLen.
func permuteRows(y, x []float32, offs []int32, rowLen, stride int) {
	y = y[:len(offs)*rowLen]
	switch {
	case stride == 1 && rowLen == 2:
		for i, o := range offs {
			xr, yr := x[o:o+2:o+2], y[2*i:2*i+2:2*i+2]
			yr[0], yr[1] = xr[0], xr[1]
		}
	case stride == 1 && rowLen == 3:
		for i, o := range offs {
			xr, yr := x[o:o+3:o+3], y[3*i:3*i+3:3*i+3]
			yr[0], yr[1], yr[2] = xr[0], xr[1], xr[2]
		}
	case stride == 1 && rowLen == 4:
		for i, o := range offs {
			xr, yr := x[o:o+4:o+4], y[4*i:4*i+4:4*i+4]
			yr[0], yr[1], yr[2], yr[3] = xr[0], xr[1], xr[2], xr[3]
		}
	case stride == 1 && rowLen > 16:
		for i, o := range offs {
			copy(y[i*rowLen:(i+1)*rowLen], x[int(o):int(o)+rowLen])
		}
	case stride == 1:
		for i, o := range offs {
			yr := y[i*rowLen : (i+1)*rowLen]
			xr := x[int(o) : int(o)+len(yr)]
			for j, v := range xr {
				yr[j] = v
			}
		}
	default:
		for i, o := range offs {
			yr := y[i*rowLen : (i+1)*rowLen]
			p := int(o)
			for j := range yr {
				yr[j] = x[p]
				p += stride
			}
		}
	}
}

// fastZeroPad is ZeroPadding2D: per sample, the input rows are copied to their place and
// only the border between them is cleared (the right border of one row and the left
// border of the next are one contiguous run).
type fastZeroPad struct {
	h, rowIn        int // input rows per sample, floats per input row
	inN, outN       int // floats per sample
	top, gap, after int // floats cleared before the first row, between rows, after the last
	lead            int // floats from the start of a padded row to its data
	small           bool
}

// zeroPadSmall is the output size (floats) up to which ZeroPadding2D clears the whole
// map before copying the rows.
const zeroPadSmall = 1024

func newFastZeroPad(l *layers.ZeroPad2D, in layers.Shape) (compiled, bool) {
	out, err := l.OutputShape(in)
	if err != nil {
		return compiled{}, false
	}
	h, w, c := in[0], in[1], in[2]
	ow := out[1]
	k := &fastZeroPad{h: h, rowIn: w * c, inN: in.Size(), outN: out.Size(),
		lead: l.Pads[2] * c, gap: (l.Pads[2] + l.Pads[3]) * c}
	k.top = l.Pads[0]*ow*c + k.lead
	k.after = l.Pads[3]*c + l.Pads[1]*ow*c
	if h == 0 || w == 0 || c == 0 {
		k.h = 0
	}
	k.small = k.outN <= zeroPadSmall
	return compiled{k: k, name: "zeropad2d rows go"}, true
}

func (k *fastZeroPad) run(dst, src, _ []float32, batch int) {
	for b := 0; b < batch; b++ {
		x, y := src[b*k.inN:(b+1)*k.inN], dst[b*k.outN:(b+1)*k.outN]
		if k.h == 0 {
			clear(y)
			continue
		}
		if k.small {
			// one clear of the whole map costs less than a clear per border run
			clear(y)
			o, i := k.top, 0
			for r := 0; r < k.h; r++ {
				move(y[o:o+k.rowIn], x[i:i+k.rowIn])
				o += k.rowIn + k.gap
				i += k.rowIn
			}
			continue
		}
		zero(y[:k.top])
		o, i := k.top, 0
		for r := 0; r < k.h; r++ {
			if r > 0 {
				zero(y[o : o+k.gap])
				o += k.gap
			}
			move(y[o:o+k.rowIn], x[i:i+k.rowIn])
			o += k.rowIn
			i += k.rowIn
		}
		zero(y[o : o+k.after])
	}
}

// zero and move are clear and copy with short lengths done inline (a runtime call
// costs more than a few stores).
func zero(y []float32) {
	if len(y) > 16 {
		clear(y)
		return
	}
	for i := range y {
		y[i] = 0
	}
}

func move(y, x []float32) {
	if len(x) > 16 {
		copy(y, x)
		return
	}
	y = y[:len(x)]
	for i, v := range x {
		y[i] = v
	}
}

// fastAffine is a per-channel y = x*scale + shift over the last axis. scale and shift are
// tiled to a period of whole channel groups (at least affinePeriod floats) so the inner
// loop is long even for 1-3 channels; it computes the same v*s+t as the reference.
type fastAffine struct {
	scale, shift []float32 // one period
	s0, t0       float32   // both broadcast: scalars
	scalar       bool
	n            int // floats per sample
}

const affinePeriod = 64

func newFastAffine(l *layers.Affine, in layers.Shape) (compiled, bool) {
	if _, err := l.OutputShape(in); err != nil || len(in) == 0 {
		return compiled{}, false
	}
	c := in.Last()
	k := &fastAffine{n: in.Size()}
	if len(l.Scale) == 1 && len(l.Shift) == 1 {
		k.scalar, k.s0, k.t0 = true, l.Scale[0], l.Shift[0]
		return compiled{k: k, name: "affine go", inPlace: true}, true
	}
	if c <= 0 {
		return compiled{}, false
	}
	p := c * max(1, (affinePeriod+c-1)/c)
	k.scale, k.shift = make([]float32, p), make([]float32, p)
	for i := range p {
		k.scale[i], k.shift[i] = pick(l.Scale, i%c), pick(l.Shift, i%c)
	}
	return compiled{k: k, name: "affine go", inPlace: true}, true
}

func (k *fastAffine) run(dst, src, _ []float32, batch int) {
	n := batch * k.n
	x, y := src[:n], dst[:n]
	if k.scalar {
		affineScalar(y, x, k.s0, k.t0)
		return
	}
	p := len(k.scale)
	for i := 0; i < n; i += p {
		xs := x[i:min(i+p, n)]
		affineVec(y[i:i+len(xs)], xs, k.scale, k.shift)
	}
}

// affineScalar sets y[i] = x[i]*s + t, four at a time.
func affineScalar(y, x []float32, s, t float32) {
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xx, yy := x[i:i+4:i+4], y[i:i+4:i+4]
		yy[0], yy[1], yy[2], yy[3] = xx[0]*s+t, xx[1]*s+t, xx[2]*s+t, xx[3]*s+t
	}
	for ; i < len(x); i++ {
		y[i] = x[i]*s + t
	}
}

// affineVec sets y[i] = x[i]*s[i] + t[i] for i < len(x) <= len(s), len(t), four at a time.
func affineVec(y, x, s, t []float32) {
	y, s, t = y[:len(x)], s[:len(x)], t[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xx, yy := x[i:i+4:i+4], y[i:i+4:i+4]
		ss, tt := s[i:i+4:i+4], t[i:i+4:i+4]
		yy[0], yy[1], yy[2], yy[3] = xx[0]*ss[0]+tt[0], xx[1]*ss[1]+tt[1], xx[2]*ss[2]+tt[2], xx[3]*ss[3]+tt[3]
	}
	for ; i < len(x); i++ {
		y[i] = x[i]*s[i] + t[i]
	}
}

// fastActivation is a stand-alone activation layer: the vector kernels of
// applyActivation, and Go loops without the per-element dispatch of Activation.Eval for
// the ReLU family and Clip.
type fastActivation struct {
	isa     asm.ISA
	act     layers.Activation
	n, last int
}

func newFastActivation(l *layers.ActivationLayer, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if _, err := l.OutputShape(in); err != nil || len(in) == 0 {
		return compiled{}, false
	}
	k := &fastActivation{isa: isa, act: l.Act, n: in.Size(), last: in.Last()}
	name := l.Act.String() + " go"
	switch l.Act.Kind {
	case layers.Sigmoid, layers.Tanh, layers.Swish, layers.GeluTanh, layers.Exponential, layers.Elu, layers.Softmax:
		name = l.Act.String() + " " + isa.String()
	}
	return compiled{k: k, name: name, inPlace: true}, true
}

func (k *fastActivation) run(dst, src, _ []float32, batch int) {
	n := batch * k.n
	y := dst[:n]
	if &dst[0] != &src[0] {
		copy(y, src[:n])
	}
	applyActivation(k.isa, k.act, y, k.last)
}

// reluInPlace is Activation.Eval's ReLU over x, branch for branch.
func reluInPlace(x []float32, a layers.Activation) {
	mx, th, al := a.Max, a.Threshold, a.Alpha
	for i, v := range x {
		switch {
		case v >= mx:
			x[i] = mx
		case v >= th:
		case v != v:
		case al == 0:
			x[i] = 0
		default:
			x[i] = al * (v - th)
		}
	}
}
