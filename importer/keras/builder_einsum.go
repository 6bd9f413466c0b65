package keras

import (
	"fmt"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// einsumPlan is an EinsumDense equation "X,K->O" that is a matrix product after
// reshapes: X = F C (free axes, the batch first, then the contracted axes), K holds
// exactly the C and N axes (any order), O = F N. The layer is then Reshape(F, prod C),
// Dense(prod C -> prod N), Reshape(F, N): the existing GEMM kernels, float or int8.
type einsumPlan struct {
	x, k, o string
	nf      int   // len(F), batch included
	kperm   []int // kperm[i]: the K axis holding axis i of the (C..., N...) kernel
}

// parseEinsum checks eq against the form above; the error says which rule fails.
func parseEinsum(eq string) (*einsumPlan, error) {
	eq = strings.ReplaceAll(eq, " ", "")
	lhs, o, ok := strings.Cut(eq, "->")
	x, k, ok2 := strings.Cut(lhs, ",")
	if !ok || !ok2 || strings.Contains(eq, ".") || x == "" || k == "" || o == "" {
		return nil, fmt.Errorf("not of the form \"X,K->O\" with an ellipsis only leading X and O")
	}
	for _, s := range []string{x, k, o} {
		for i, r := range s {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') || strings.IndexRune(s[i+1:], r) >= 0 {
				return nil, fmt.Errorf("axis labels must be distinct letters within each operand")
			}
		}
	}
	in := func(s string, r rune) bool { return strings.ContainsRune(s, r) }
	nf := 0
	for nf < len(x) && !in(k, rune(x[nf])) {
		nf++
	}
	f, c := x[:nf], x[nf:]
	if nf == 0 || !strings.HasPrefix(o, f) {
		return nil, fmt.Errorf("the input's leading axes (batch first) must be the output's leading axes")
	}
	n := o[nf:]
	for _, r := range c {
		if !in(k, r) || in(o, r) {
			return nil, fmt.Errorf("input axis %q must be either kept (leading, not in the kernel) or contracted (in the kernel, not in the output)", r)
		}
	}
	if len(n) == 0 || len(c)+len(n) != len(k) {
		return nil, fmt.Errorf("the kernel must hold exactly the contracted and the new output axes")
	}
	p := &einsumPlan{x: x, k: k, o: o, nf: nf}
	for _, r := range c + n {
		i := strings.IndexRune(k, r)
		if i < 0 || (in(n, r) && in(x, r)) {
			return nil, fmt.Errorf("kernel axis %q is neither contracted nor a new output axis", r)
		}
		p.kperm = append(p.kperm, i)
	}
	return p, nil
}

// buildEinsumDense imports Keras EinsumDense (float, or int8 after model.quantize) for
// the equations einsumPlan accepts, and refuses the others naming the equation.
func buildEinsumDense(b *builder, s *spec) error {
	c := s.Conf
	eq := c.str("equation", "")
	biasAxes := c.str("bias_axes", "")
	outConf, _ := c.get("output_shape")
	if err := b.confErr(s); err != nil {
		return err
	}
	act, err := b.act(s, "activation", "linear")
	if err != nil {
		return err
	}
	if err := b.kerasLayout(); err != nil {
		return err
	}
	in := b.phys
	p, err := parseEinsum(elide(eq, len(in)+1))
	if err != nil {
		return b.errf(layers.ErrUnsupported, "equation %q: %v; kinfer imports EinsumDense equations that are a matrix product after reshapes", eq, err)
	}
	if len(in) != len(p.x)-1 {
		return b.errf(layers.ErrShapeMismatch, "equation %q takes a rank-%d input, got %v", eq, len(p.x), in)
	}
	// dims of every axis label: the input's (batch excluded), then output_shape's for N
	dim := map[byte]int{}
	for i := 1; i < len(p.x); i++ {
		dim[p.x[i]] = in[i-1]
	}
	var oshape []any
	switch v := outConf.(type) {
	case []any:
		oshape = v
	case float64:
		oshape = []any{v}
	}
	// output_shape ends in the new axes (an elided equation's leaves the ellipsis out)
	if len(oshape) > len(p.o)-1 || len(oshape) < len(p.o)-p.nf {
		return b.errf(layers.ErrInvalid, "output_shape=%s does not fit equation %q", jsonText(outConf), eq)
	}
	for i := p.nf; i < len(p.o); i++ {
		d, ok := asInt(oshape[len(oshape)-(len(p.o)-i)])
		if !ok || d <= 0 || d > 1<<20 {
			return b.errf(layers.ErrInvalid, "output_shape=%s: axis %q needs a size", jsonText(outConf), p.o[i])
		}
		dim[p.o[i]] = d
	}
	kin, units := 1, 1
	nshape := layers.Shape{}
	// every factor is at most 1<<20 and the products stop at their bounds: no overflow
	for _, r := range p.x[p.nf:] {
		if kin *= dim[byte(r)]; kin > 1<<24 {
			return b.errf(layers.ErrInvalid, "equation %q contracts more than %d values", eq, 1<<24)
		}
	}
	for _, r := range p.o[p.nf:] {
		if units *= dim[byte(r)]; units > 1<<20 {
			return b.errf(layers.ErrInvalid, "output_shape=%s: more than %d outputs per row", jsonText(outConf), 1<<20)
		}
		nshape = append(nshape, dim[byte(r)])
	}
	if kin*units > 1<<28 {
		return b.errf(layers.ErrInvalid, "kernel of %d x %d values", kin, units)
	}
	kshape := make([]int, len(p.k))
	for i := range p.k {
		kshape[i] = dim[p.k[i]]
	}
	// bias: Keras's shape runs from the first biased output axis to the last, 1 where
	// an axis is not biased; kinfer's Dense bias is per unit, so only N axes may be biased
	var bshape []int
	if biasAxes != "" {
		first := len(p.o)
		for _, r := range biasAxes {
			i := strings.IndexRune(p.o, r)
			if i < p.nf {
				return b.errf(layers.ErrUnsupported, "equation %q bias_axes %q: only kernel output axes can be biased", eq, biasAxes)
			}
			first = min(first, i)
		}
		for i := first; i < len(p.o); i++ {
			d := 1
			if strings.IndexByte(biasAxes, p.o[i]) >= 0 {
				d = dim[p.o[i]]
			}
			bshape = append(bshape, d)
		}
	}
	q8 := kerasInt8(s)
	n, what := 1, "kernel"
	if bshape != nil {
		n, what = 2, "kernel, bias"
	}
	if q8 {
		n, what = n+1, what+", kernel_scale"
	}
	ws, err := b.weights(s, what, n)
	if err != nil {
		return err
	}
	if err := b.checkShape("kernel", ws[0], kshape...); err != nil {
		return err
	}
	w := p.permuteKernel(ws[0].Data, kshape)
	var bias []float32
	if bshape != nil {
		if err := b.checkShape("bias", ws[1], bshape...); err != nil {
			return err
		}
		bias = broadcastBias(ws[1].Data, bshape, nshape)
	}
	// a softmax-family activation acts on the last output axis alone: after the reshape
	dact := act
	if !act.PerElement() && len(nshape) > 1 {
		dact = layers.Activation{}
	}
	if len(p.x)-p.nf > 1 { // flatten the contracted axes
		if err := b.emit(&layers.Reshape{Info: layers.Info{Name: s.Name + "/flatten", Class: "Reshape"}, Target: append(in[:p.nf-1:p.nf-1], kin)}, nil); err != nil {
			return err
		}
	}
	if q8 {
		ks := ws[n-1]
		want := make([]int, 0, len(p.o))
		for range p.nf {
			want = append(want, 1)
		}
		if err := b.checkShape("kernel_scale", ks, append(want, nshape...)...); err != nil {
			return err
		}
		ks.Shape = []int{units} // output-aligned already: one scale per unit, in order
		ws[0].Shape, ws[0].Data = []int{kin, units}, w
		sub := []*array{ws[0], ks}
		if bias != nil {
			sub = []*array{ws[0], {Shape: []int{units}, Data: bias}, ks}
		}
		if err := buildInt8DenseFrom(b, s, sub, kin, units, bias != nil, dact); err != nil {
			return err
		}
	} else if err := b.emit(&layers.Dense{Info: info(s), In: kin, Units: units, W: w, B: bias, Act: dact}, nil); err != nil {
		return err
	}
	if len(nshape) > 1 {
		t := append(append(layers.Shape{}, in[:p.nf-1]...), nshape...)
		if err := b.emit(&layers.Reshape{Info: layers.Info{Name: s.Name + "/split", Class: "Reshape"}, Target: t}, nil); err != nil {
			return err
		}
	}
	if dact != act {
		return b.emit(&layers.ActivationLayer{Info: layers.Info{Name: s.Name + "/activation", Class: "Activation"}, Act: act}, nil)
	}
	return nil
}

// permuteKernel returns the kernel (K axes, shape kshape) as (C..., N...) row-major.
func (p *einsumPlan) permuteKernel(w []float32, kshape []int) []float32 {
	ident := true
	for i, j := range p.kperm {
		ident = ident && i == j
	}
	if ident {
		return w
	}
	r := len(kshape)
	stride := make([]int, r) // stride in w of each K axis
	for i, s := r-1, 1; i >= 0; i-- {
		stride[i], s = s, s*kshape[i]
	}
	out := make([]float32, len(w))
	idx := make([]int, r) // index over the (C..., N...) axes
	for o := range out {
		src := 0
		for i, j := range p.kperm {
			src += idx[i] * stride[j]
		}
		out[o] = w[src]
		for i := r - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < kshape[p.kperm[i]] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// broadcastBias expands a Keras bias (bshape: the trailing output axes, 1 where not
// biased) over the N axes nshape, row-major.
func broadcastBias(b []float32, bshape []int, nshape layers.Shape) []float32 {
	off := len(nshape) - len(bshape)
	out := make([]float32, nshape.Size())
	idx := make([]int, len(nshape))
	for o := range out {
		src := 0
		for i, d := range bshape {
			src = src*d + min(idx[off+i], d-1)
		}
		out[o] = b[src]
		for i := len(nshape) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < nshape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// elide spells out a leading ellipsis of X and O ("...b,bc->...c", Keras's left-elided
// form) as letters the equation does not use, for an input of the given rank (batch
// included); other equations are returned as they are.
func elide(eq string, rank int) string {
	eq = strings.ReplaceAll(eq, " ", "")
	lhs, o, _ := strings.Cut(eq, "->")
	x, k, _ := strings.Cut(lhs, ",")
	if !strings.HasPrefix(x, "...") || !strings.HasPrefix(o, "...") || strings.Contains(k, ".") {
		return eq
	}
	n := rank - (len(x) - 3)
	if n < 1 || n > 26 {
		return eq
	}
	free := ""
	for r := 'a'; r <= 'z' && len(free) < n; r++ {
		if !strings.ContainsRune(eq, r) {
			free += string(r)
		}
	}
	if len(free) < n {
		return eq
	}
	return free + x[3:] + "," + k + "->" + free + o[3:]
}
