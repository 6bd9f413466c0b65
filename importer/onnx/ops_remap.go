package onnx

import (
	"math"

	"github.com/kinfer/kinfer/layers"
)

// Data-movement ops a transpose cannot express (Slice/Gather selections, Split, Tile,
// Pad in any mode), imported as one layers.Remap each: a gather by a table built here
// from the op's index arithmetic over the ONNX shape.

// remap emits a Remap producing the ONNX value out of shape dims (the batch axis at the
// data's batch axis, unchanged): src[k] is, for element k of dims without the batch
// axis in row-major order, the logical (row-major, ONNX) index of the input element it
// copies, or -1 for fill. Channels-last data stays channels-last (so a Pad or Slice
// between convolutions moves no more data than it must), and a Remap reading the output
// of another, nothing else reading it, is composed with it into one.
func (b *builder) remap(n *node, out string, dims []int, src []int32, fill float32) error {
	d := b.d
	nd := &dyn{shape: dims, bAxis: d.bAxis, bInner: d.bInner}
	outNb := nd.nb()
	phys := layers.Shape(append([]int(nil), outNb...))
	order := src // order[j]: the output logical element held at physical position j
	if p := channelsLast(d); p != nil {
		nd.idx = transposeIdx(outNb, p)
		for k, a := range p {
			phys[k] = outNb[a]
		}
		if nd.idx != nil {
			order = make([]int32, len(src))
			for j, o := range nd.idx {
				order[j] = src[o]
			}
		}
	}
	var inv []int32
	if d.idx != nil {
		inv = invert(d.idx)
	}
	pos := make([]int32, len(order))
	for j, v := range order {
		pos[j] = v
		if v >= 0 && inv != nil {
			pos[j] = inv[v]
		}
	}
	l := &layers.Remap{Info: b.info(n.GetName(), n.GetOpType()), Idx: pos, Fill: fill, InSize: d.size(), Out: phys}
	if prev, ok := b.fresh().(*layers.Remap); ok && b.producer == len(b.ls)-1 && b.val == b.layerValue(b.producer) {
		composeRemap(l, prev)
		last := len(b.ls) - 1
		b.val = b.lin[last][0]
		b.ls, b.lin, b.shapes = b.ls[:last], b.lin[:last], b.shapes[:last]
		b.phys = b.valShape(b.val)
		b.producer = -1
	}
	if err := b.emit(l); err != nil {
		return err
	}
	return b.setOut(out, nd)
}

// composeRemap makes l read prev's input: l after prev as one table.
func composeRemap(l, prev *layers.Remap) {
	fills := make([]float32, len(l.Idx))
	for k, i := range l.Idx {
		fills[k] = l.Fill
		if i < 0 {
			continue
		}
		if l.Idx[k] = prev.Idx[i]; l.Idx[k] < 0 {
			fills[k] = prev.Fill
			if prev.Fills != nil {
				fills[k] = prev.Fills[i]
			}
		}
	}
	// one fill value when every filled element has the same (bit for bit)
	first := -1
	for k, i := range l.Idx {
		if i >= 0 {
			continue
		}
		if first < 0 {
			first = k
		} else if math.Float32bits(fills[k]) != math.Float32bits(fills[first]) {
			l.Fills = fills
			break
		}
	}
	if l.Fills == nil && first >= 0 {
		l.Fill = fills[first]
	}
	l.InSize = prev.InSize
}

// channelsLast returns the permutation of the data's per-sample axes that its layout
// is (the channel axis, first after the batch, moved last: NHWC for NCHW data), or nil
// when the layout is another.
func channelsLast(d *dyn) []int {
	nb := d.nb()
	if d.idx == nil || len(nb) < 2 || d.bAxis != 0 {
		return nil
	}
	p := make([]int, len(nb))
	for k := range p {
		p[k] = (k + 1) % len(nb)
	}
	if !sameIdx(d.idx, transposeIdx(nb, p)) {
		return nil
	}
	return p
}

// checkRemapSize refuses an output larger than the per-sample bound before its table
// is built.
func (b *builder) checkRemapSize(n *node, dims []int) error {
	size := 1
	for k, v := range dims {
		if v <= 0 || v > b.maxSample {
			return n.errorf(layers.ErrInvalid, "output shape %v", dims)
		}
		if k != b.d.bAxis {
			size *= v
		}
		if size > b.maxSample {
			return n.errorf(layers.ErrTooLarge, "output of shape %v has more than the %d elements per sample allowed", dims, b.maxSample)
		}
	}
	return nil
}

// remapBy builds the table for an output of shape dims (batch axis included, held at
// the data's) where from maps an output coordinate to an input coordinate (false: fill).
func (b *builder) remapBy(n *node, out string, dims []int, fill float32, from func(oc, ic []int) bool) error {
	if err := b.checkRemapSize(n, dims); err != nil {
		return err
	}
	d := b.d
	r := len(dims)
	ist := make([]int, r) // input strides over nb (batch axis stride 0)
	s := 1
	for k := r - 1; k >= 0; k-- {
		if k == d.bAxis {
			continue
		}
		ist[k] = s
		s *= d.shape[k]
	}
	total := 1
	for k, v := range dims {
		if k != d.bAxis {
			total *= v
		}
	}
	src := make([]int32, total)
	oc, ic := make([]int, r), make([]int, r)
	for j := range src {
		ok := from(oc, ic)
		if ok {
			off := 0
			for k := range ic {
				if k != d.bAxis {
					off += ic[k] * ist[k]
				}
			}
			src[j] = int32(off)
		} else {
			src[j] = -1
		}
		for k := r - 1; k >= 0; k-- { // next output coordinate (batch axis fixed at 0)
			if k == d.bAxis {
				continue
			}
			if oc[k]++; oc[k] < dims[k] {
				break
			}
			oc[k] = 0
		}
	}
	outDims := append([]int(nil), dims...)
	outDims[d.bAxis] = d.shape[d.bAxis]
	return b.remap(n, out, outDims, src, fill)
}

func opTile(b *builder, n *node) error {
	t, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	if t == nil || !t.isInt || t.size() != len(d.shape) || t.hasBatch() {
		return n.errorf(layers.ErrUnsupported, "repeats must be a constant of %d integers", len(d.shape))
	}
	rep := t.ints()
	dims := make([]int, len(d.shape))
	for k, v := range rep {
		if v < 1 || v > int64(b.maxSample) {
			return n.errorf(layers.ErrInvalid, "repeats %v", rep)
		}
		if k == d.bAxis && v != 1 {
			return n.errorf(layers.ErrUnsupported, "tiling the batch axis")
		}
		dims[k] = d.shape[k] * int(v)
		if dims[k] > b.maxSample {
			return n.errorf(layers.ErrTooLarge, "repeats %v", rep)
		}
	}
	return b.remapBy(n, n.out(0), dims, 0, func(oc, ic []int) bool {
		for k := range oc {
			ic[k] = oc[k] % d.shape[k]
		}
		return true
	})
}

// opSplit imports Split on any axis but the batch's: each output is a slice.
func opSplit(b *builder, n *node) error {
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	r := len(d.shape)
	axis := int(n.int("axis", 0))
	if axis < -r || axis >= r {
		return n.errorf(layers.ErrInvalid, "axis %d for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	if axis == d.bAxis {
		return n.errorf(layers.ErrUnsupported, "splitting the batch axis")
	}
	outs := len(n.GetOutput())
	var parts []int64
	if n.has("split") {
		parts = n.ints("split", nil)
	} else if t, err := b.constIn(n, 1); err != nil {
		return err
	} else if t != nil {
		parts = t.ints()
	}
	if no := n.int("num_outputs", 0); no != 0 && int(no) != outs {
		return n.errorf(layers.ErrBadFile, "num_outputs %d with %d outputs", no, outs)
	}
	size := d.shape[axis]
	if parts == nil {
		if outs < 1 {
			return n.errorf(layers.ErrBadFile, "no outputs")
		}
		q := (size + outs - 1) / outs // the last part takes what remains (Split-18)
		for k := range outs {
			parts = append(parts, int64(min(q, size-k*q)))
		}
	}
	if len(parts) != outs {
		return n.errorf(layers.ErrBadFile, "%d split sizes for %d outputs", len(parts), outs)
	}
	var sum int64
	for _, p := range parts {
		if p < 0 || p > int64(size) {
			return n.errorf(layers.ErrInvalid, "split %v of axis size %d", parts, size)
		}
		sum += p
	}
	if sum != int64(size) {
		return n.errorf(layers.ErrInvalid, "split %v of axis size %d", parts, size)
	}
	in := b.cur
	start := 0
	for k, p := range parts {
		o := n.out(k)
		if o == "" || !b.used(o) && b.outputUses(o) == 0 {
			start += int(p)
			continue
		}
		if p == 0 {
			return n.errorf(layers.ErrUnsupported, "an empty split output %q", o)
		}
		b.load(in)
		b.excl = false
		dims := append([]int(nil), b.d.shape...)
		dims[axis] = int(p)
		s0 := start
		if err := b.remapBy(n, o, dims, 0, func(oc, ic []int) bool {
			copy(ic, oc)
			ic[axis] += s0
			return true
		}); err != nil {
			return err
		}
		start += int(p)
	}
	return nil
}

// registerRemap adds the data-movement ops to the chain handlers.
func registerRemap(h map[string]handler) {
	h["Tile"] = opTile
	h["Split"] = opSplit
	h["Where"] = opWhere
}

// opWhere imports Where(cond, a, b) with a constant condition and one of a, b the data,
// the other a constant (torch's masked_fill): a Remap in the data's own layout that
// copies the data where it is chosen and fills the constant elsewhere. Nothing is
// computed on the data, so an Inf or NaN beside a -Inf fill stays what it was.
func opWhere(b *builder, n *node) error {
	cond, err := b.constIn(n, 0)
	if err != nil {
		return err
	}
	dataAt := 1
	if n.in(2) == b.cur {
		dataAt = 2
	}
	if n.in(dataAt) != b.cur || n.in(3-dataAt) == b.cur {
		return n.errorf(layers.ErrUnsupported, "Where with the data as its condition or in both branches")
	}
	other, err := b.constIn(n, 3-dataAt)
	if err != nil {
		return err
	}
	if cond == nil || other == nil {
		return n.errorf(layers.ErrBadFile, "missing input")
	}
	for _, c := range []*tensor{cond, other} {
		if out, ok := broadcastDims(b.d.shape, c.dims); !ok || len(out) != len(b.d.shape) {
			return n.errorf(layers.ErrUnsupported, "constant of shape %v grows the data %v", c.dims, b.d.shape)
		}
	}
	cf, err := b.expand(n, &tensor{dims: cond.dims, f: cond.floats(), bAxis: -1})
	if err != nil {
		return err
	}
	fill, err := b.expand(n, other)
	if err != nil {
		return err
	}
	idx := make([]int32, len(cf))
	for j, c := range cf {
		takeData := c != 0
		if dataAt == 2 {
			takeData = !takeData
		}
		idx[j] = int32(j)
		if !takeData {
			idx[j] = -1
		}
	}
	l := &layers.Remap{Info: b.info(n.GetName(), "Where"), Idx: idx, Fills: fill, InSize: len(idx), Out: b.phys.Clone()}
	if err := b.emit(l); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}
