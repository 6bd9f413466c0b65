package onnx

import (
	"sort"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
)

// fitLayerNorm matches the layer normalization torch exports below opset 17,
//
//	m = ReduceMean(x, trailing axes); d = x - m; v = ReduceMean(d^2, same axes)
//	y = d / Sqrt(v + eps)
//
// at the fork of x, and imports it as one layers.LayerNorm (the Mul/Add by gamma and
// beta that follow fold into an Affine): one pass over the data instead of seven
// layers with broadcasting merges. It reports false when the subgraph differs in any
// way; the element-wise family then imports it node by node.
func (b *builder) fitLayerNorm(at *node) (bool, error) {
	x := b.cur
	if at.GetOpType() != "ReduceMean" || at.in(0) != x {
		return false, nil
	}
	var xUsers []int
	for _, i := range b.users[x] {
		if b.nodes[i].GetOpType() != "Shape" {
			xUsers = append(xUsers, i)
		}
	}
	if len(xUsers) != 2 || b.outputUses(x) > 0 {
		return false, nil
	}
	only := func(v string, op string) (*onnxpb.NodeProto, int) {
		us := b.users[v]
		if len(us) != 1 || b.outputUses(v) > 0 || b.done[us[0]] || b.nodes[us[0]].GetOpType() != op {
			return nil, -1
		}
		return b.nodes[us[0]], us[0]
	}
	scalar := func(name string) (float32, bool) {
		c, ok := b.consts[name]
		if !ok || c.size() != 1 || c.isInt || c.hasBatch() {
			return 0, false
		}
		return c.f[0], true
	}
	r := len(b.d.shape)
	axesOf := func(np *onnxpb.NodeProto) []int {
		n := newNode(np, b.opset)
		if n.int("keepdims", 1) != 1 || n.int("noop_with_empty_axes", 0) != 0 {
			return nil
		}
		ins := []*tensor{nil, nil}
		if n.in(1) != "" {
			c, ok := b.consts[n.in(1)]
			if !ok {
				return nil
			}
			ins[1] = c
		}
		axes, err := axesArg(n, ins)
		if err != nil || len(axes) == 0 {
			return nil
		}
		out := make([]int, len(axes))
		for k, a := range axes {
			v, err := normAxis(n, a, r)
			if err != nil {
				return nil
			}
			out[k] = v
		}
		sort.Ints(out)
		for k, v := range out {
			if v != r-len(out)+k {
				return nil // not the trailing axes
			}
		}
		return out
	}
	mAxes := axesOf(at.NodeProto)
	if mAxes == nil {
		return false, nil
	}
	mean := at.out(0)
	var sub *onnxpb.NodeProto
	var subI int
	for _, i := range xUsers {
		if np := b.nodes[i]; np != at.NodeProto && np.GetOpType() == "Sub" && len(np.GetInput()) == 2 && np.GetInput()[0] == x && np.GetInput()[1] == mean {
			sub, subI = np, i
		}
	}
	if sub == nil || len(b.users[mean]) != 1 {
		return false, nil
	}
	d := sub.GetOutput()[0]
	if len(b.users[d]) != 2 || b.outputUses(d) > 0 {
		return false, nil
	}
	var pow, div *onnxpb.NodeProto
	var powI, divI int
	for _, i := range b.users[d] {
		switch np := b.nodes[i]; np.GetOpType() {
		case "Pow":
			pow, powI = np, i
		case "Div":
			div, divI = np, i
		}
	}
	if pow == nil || div == nil || len(pow.GetInput()) != 2 || pow.GetInput()[0] != d || len(div.GetInput()) != 2 || div.GetInput()[0] != d {
		return false, nil
	}
	if e, ok := scalar(pow.GetInput()[1]); !ok || e != 2 {
		return false, nil
	}
	vmean, vI := only(pow.GetOutput()[0], "ReduceMean")
	if vmean == nil {
		return false, nil
	}
	if vAxes := axesOf(vmean); len(vAxes) != len(mAxes) {
		return false, nil
	}
	add, addI := only(vmean.GetOutput()[0], "Add")
	if add == nil || len(add.GetInput()) != 2 {
		return false, nil
	}
	epsName := add.GetInput()[1]
	if add.GetInput()[1] == vmean.GetOutput()[0] {
		epsName = add.GetInput()[0]
	}
	eps, ok := scalar(epsName)
	if !ok || eps < 0 {
		return false, nil
	}
	sqrt, sqrtI := only(add.GetOutput()[0], "Sqrt")
	if sqrt == nil || div.GetInput()[1] != sqrt.GetOutput()[0] {
		return false, nil
	}
	if len(b.users[sqrt.GetOutput()[0]]) != 1 || b.outputUses(sqrt.GetOutput()[0]) > 0 {
		return false, nil
	}
	// a LayerNormalization node standing for the matched subgraph, scale 1, no bias
	ax := mAxes[0]
	dims := append([]int(nil), b.d.shape[ax:]...)
	ones := make([]float32, shapeSize(dims))
	for k := range ones {
		ones[k] = 1
	}
	scale := div.GetOutput()[0] + ":kinfer_layernorm_scale"
	b.consts[scale] = newFloat(dims, ones)
	name := at.GetName()
	if sub.GetName() != "" {
		name = sub.GetName()
	}
	ln := newNode(&onnxpb.NodeProto{Name: name, OpType: "LayerNormalization", Input: []string{x, scale}, Output: []string{div.GetOutput()[0]},
		Attribute: []*onnxpb.AttributeProto{
			{Name: "axis", Type: onnxpb.AttributeProto_INT, I: int64(ax)},
			{Name: "epsilon", Type: onnxpb.AttributeProto_FLOAT, F: eps}}}, b.opset)
	if err := opLayerNorm(b, ln); err != nil {
		return false, err
	}
	for _, i := range []int{xUsers[0], xUsers[1], subI, powI, vI, addI, sqrtI, divI} {
		b.done[i] = true
	}
	return true, ln.done()
}
