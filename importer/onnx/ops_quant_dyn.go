package onnx

import (
	"math"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// Dynamic quantization (onnxruntime.quantization.quantize_dynamic): DynamicQuantizeLinear
// feeding MatMulInteger/ConvInteger, and com.microsoft DynamicQuantizeLSTM.

// opDynQuant imports quantize_dynamic's patterns: DynamicQuantizeLinear(x) -> (q, s,
// zp); MatMulInteger(q, W, zp, Wzp) or ConvInteger(q, W, zp, Wzp) -> Cast(float) ->
// Mul(., Mul(s, Wscale)) [-> Add(., bias)] as one DynQDense or DynQConv2D (a grouped
// ConvInteger: its float Conv over the dequantized weights, on unquantized input).
func opDynQuant(b *builder, n *node) error {
	users := append([]int(nil), b.users[n.out(0)]...)
	if len(users) == 0 || b.outputUses(n.out(0)) > 0 {
		return n.errorf(layers.ErrUnsupported, "DynamicQuantizeLinear whose output is not read by MatMulInteger/ConvInteger")
	}
	if len(users) == 1 {
		return b.dynConsumer(n, users[0])
	}
	// one range read by several integer ops (a ResNet block's two convs): each becomes
	// its own layer reading x, which computes the same range
	x := n.in(0)
	for _, u := range users {
		b.load(x)
		b.excl = false
		if err := b.dynConsumer(n, u); err != nil {
			return err
		}
	}
	return nil
}

// dynConsumer imports integer op mi reading DynamicQuantizeLinear n's output with its
// Cast/Mul[/Add] tail as one layer (see opDynQuant).
func (b *builder) dynConsumer(n *node, mi int) error {
	bad := func(why string) error {
		return n.errorf(layers.ErrUnsupported, "DynamicQuantizeLinear outside the MatMulInteger/ConvInteger patterns of quantize_dynamic (%s)", why)
	}
	one := func(v string) (int, *onnxpb.NodeProto) {
		if len(b.users[v]) != 1 || b.outputUses(v) > 0 {
			return -1, nil
		}
		i := b.users[v][0]
		return i, b.nodes[i]
	}
	other := func(np *onnxpb.NodeProto, v string) string {
		if len(np.GetInput()) != 2 {
			return ""
		}
		if np.GetInput()[0] == v {
			return np.GetInput()[1]
		}
		return np.GetInput()[0]
	}
	mm := b.nodes[mi]
	if (mm.GetOpType() != "MatMulInteger" && mm.GetOpType() != "ConvInteger") || len(mm.GetInput()) < 3 ||
		mm.GetInput()[0] != n.out(0) || mm.GetInput()[2] != n.out(2) {
		return bad("no MatMulInteger or ConvInteger")
	}
	conv := mm.GetOpType() == "ConvInteger"
	for _, u := range b.users[n.out(2)] {
		if op := b.nodes[u].GetOpType(); op != "MatMulInteger" && op != "ConvInteger" {
			return bad("zero point used elsewhere")
		}
	}
	ci, cast := one(mm.GetOutput()[0])
	if cast == nil || cast.GetOpType() != "Cast" {
		return bad("no Cast")
	}
	oi, om := one(cast.GetOutput()[0])
	if om == nil || om.GetOpType() != "Mul" {
		return bad("no output Mul")
	}
	si, sm := -1, (*onnxpb.NodeProto)(nil)
	for _, u := range b.users[n.out(1)] {
		if b.nodes[u].GetOpType() == "Mul" && len(b.nodes[u].GetOutput()) == 1 && b.nodes[u].GetOutput()[0] == other(om, cast.GetOutput()[0]) {
			si, sm = u, b.nodes[u]
		}
	}
	if sm == nil {
		return bad("no scale product")
	}
	wsc, ok := b.consts[other(sm, n.out(1))]
	wt, ok2 := b.consts[mm.GetInput()[1]]
	if !ok || !ok2 || wsc.isInt || !wt.isInt || (!conv && len(wt.dims) != 2) || (conv && len(wt.dims) != 4) {
		return bad("weights or their scale not constant")
	}
	units := wt.dims[len(wt.dims)-1] // MatMul (k, units)
	if conv {
		units = wt.dims[0] // Conv (units, cin/groups, kh, kw)
	}
	if len(b.users[sm.GetOutput()[0]]) != 1 {
		return bad("scale product used elsewhere")
	}
	done := []int{mi, si, ci, oi}
	outName := om.GetOutput()[0]
	var bias []float32
	if ai, add := one(outName); add != nil && add.GetOpType() == "Add" {
		if bt, ok := b.consts[other(add, outName)]; ok && !bt.isInt && len(bt.f) == units && bt.size() == units {
			bias, outName = bt.f, add.GetOutput()[0]
			done = append(done, ai)
		}
	}
	var wz []int64
	if len(mm.GetInput()) > 3 && mm.GetInput()[3] != "" {
		z, ok := b.consts[mm.GetInput()[3]]
		if !ok || !z.isInt || (len(z.i) != 1 && len(z.i) != units) {
			return bad("weight zero point")
		}
		wz = z.i
	}
	if len(wsc.f) != 1 && len(wsc.f) != units {
		return bad("weight scales")
	}
	ws := make([]float32, units)
	for j := range ws {
		ws[j] = wsc.f[j%len(wsc.f)]
		if !(ws[j] > 0) || math.IsInf(float64(ws[j]), 0) {
			return n.errorf(layers.ErrBadFile, "weight scale %v", ws[j])
		}
	}
	inner := 1 // elements per output unit's stride in W
	if conv {
		inner = wt.size() / units
	}
	unit := func(i int) int { // the output unit of flat weight index i
		if conv {
			return i / inner
		}
		return i % units
	}
	wf := make([]float32, len(wt.i))
	for i, v := range wt.i {
		j := unit(i)
		if wz != nil {
			v -= wz[j%len(wz)]
		}
		if v < -128 || v > 127 {
			return bad("weights minus zero point outside int8")
		}
		wf[i] = float32(v) * ws[j]
	}
	// the float handler places the layer (layouts, NCHW, rank > 2); it is then replaced
	op := "MatMul"
	if conv {
		op = "Conv"
	}
	syn := &onnxpb.NodeProto{OpType: op, Name: mm.GetName(), Input: []string{n.in(0), mm.GetName() + "#w"}, Output: []string{outName}}
	b.consts[syn.Input[1]] = newFloat(append([]int(nil), wt.dims...), wf)
	if conv {
		syn.Attribute = mm.GetAttribute()
		if bias != nil {
			syn.Input = append(syn.Input, mm.GetName()+"#b")
			b.consts[syn.Input[2]] = newFloat([]int{units}, bias)
		}
	}
	if conv {
		for _, a := range mm.GetAttribute() {
			if a.GetName() == "group" && a.GetI() > 1 {
				// no int8 grouped conv: the float one reads the dynamically quantized
				// values
				if err := b.emit(&layers.DynFakeQuant{Info: b.info(n.GetName(), n.GetOpType())}); err != nil {
					return err
				}
				syn.Input[0] = n.out(0) + "#fq"
				if err := b.setOut(syn.Input[0], b.d.clone()); err != nil {
					return err
				}
			}
		}
	}
	if err := b.importSynth(syn, handlers[op]); err != nil {
		return err
	}
	toInts := func(w []float32) []int8 {
		q := make([]int8, len(w))
		for i, v := range w {
			s := ws[i%units]
			r := math.RoundToEven(float64(v / s))
			if r < -128 || r > 127 || float32(float32(r)*s) != v {
				return nil
			}
			q[i] = int8(r)
		}
		return q
	}
	switch l := b.fresh().(type) {
	case *layers.Dense:
		if conv || l.In*l.Units != len(wt.i) || b.val != b.layerValue(b.producer) {
			return bad("the MatMul did not import as one Dense")
		}
		q := toInts(l.W)
		if q == nil {
			return bad("weights changed on import")
		}
		b.ls[b.producer] = &layers.DynQDense{Info: l.Info, K: l.In, Units: l.Units, W: q, WScale: ws, Bias: bias}
	case *layers.Conv2D:
		if !conv || b.val != b.layerValue(b.producer) {
			return bad("the ConvInteger did not import as one Conv")
		}
		if max(l.Groups, 1) == 1 && l.Act.IsLinear() {
			if q := toInts(l.W); q != nil {
				b.ls[b.producer] = &layers.DynQConv2D{Info: l.Info, Window: l.Window, Cin: l.In, Filters: l.Filters, W: q, WScale: ws, Bias: l.B}
			}
		}
	default:
		return bad("the op did not import as one layer")
	}
	for _, i := range done {
		b.done[i] = true
	}
	return nil
}

// opDynQuantLSTM imports com.microsoft DynamicQuantizeLSTM (quantize_dynamic's LSTM)
// as a float LSTM over its dequantized weights (W, R stored (dir, in, 4h) and
// (dir, h, 4h), per-direction scales and zero points, transposed back to ONNX LSTM's
// (dir, 4h, in)). ORT also quantizes x and h per step; kinfer keeps them float32, so
// the outputs differ by that quantization noise, not by the weights.
func opDynQuantLSTM(b *builder, n *node) error {
	deq := func(qi, si, zi int, what string) (string, error) {
		q, err := b.constIn(n, qi)
		if err != nil {
			return "", err
		}
		s, err := b.constIn(n, si)
		if err != nil {
			return "", err
		}
		z, err := b.constIn(n, zi)
		if err != nil {
			return "", err
		}
		if q == nil || !q.isInt || len(q.dims) != 3 || s == nil || s.isInt || (len(s.f) != 1 && len(s.f) != q.dims[0]) ||
			(z != nil && len(z.i) != len(s.f)) {
			return "", n.errorf(layers.ErrUnsupported, "%s must be a constant (dir, rows, 4*hidden) int tensor with per-direction scales", what)
		}
		for _, v := range s.f {
			if !(v > 0) || math.IsInf(float64(v), 0) {
				return "", n.errorf(layers.ErrBadFile, "%s scale %v", what, v)
			}
		}
		dir, rows, cols := q.dims[0], q.dims[1], q.dims[2]
		f := make([]float32, len(q.i))
		for d := 0; d < dir; d++ {
			c := d % len(s.f)
			var zp int64
			if z != nil {
				zp = z.i[c]
			}
			for r := 0; r < rows; r++ {
				for k := 0; k < cols; k++ {
					f[(d*cols+k)*rows+r] = float32(q.i[(d*rows+r)*cols+k]-zp) * s.f[c]
				}
			}
		}
		name := n.GetName() + "#" + what
		b.consts[name] = newFloat([]int{dir, cols, rows}, f)
		return name, nil
	}
	w, err := deq(1, 8, 9, "W")
	if err != nil {
		return err
	}
	r, err := deq(2, 10, 11, "R")
	if err != nil {
		return err
	}
	in := append([]string{n.in(0), w, r}, n.GetInput()[3:min(8, len(n.GetInput()))]...)
	syn := &onnxpb.NodeProto{OpType: "LSTM", Name: n.GetName(), Input: in, Output: n.GetOutput(), Attribute: n.GetAttribute()}
	for _, a := range n.GetAttribute() {
		n.ignore(a.GetName())
	}
	return b.importSynth(syn, opLSTM)
}
