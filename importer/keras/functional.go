package keras

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// Functional models become a layers.Graph DAG: each Keras tensor (a layer's output at
// one of its calls) maps to a graph value and its layout. A single-input layer is
// built by the chain builder (builder.go) run from that tensor's layout; the layers it
// emits are wired as a chain of graph nodes. Multi-input layers (merges) are built by
// builder_merge.go. Nested models (Sequential or Functional used as a layer) are
// inlined at every call, so a model called twice shares its weights, as does a layer
// called twice.

// tensor is a built Keras tensor: a graph value and its layout (see builder).
type tensor struct {
	v    layers.Value
	phys layers.Shape
	perm []int
}

// logical is the tensor's shape as Keras sees it.
func (t tensor) logical() layers.Shape {
	l := make(layers.Shape, len(t.phys))
	for i, p := range t.perm {
		l[p] = t.phys[i]
	}
	return l
}

// dag builds a graph from a Functional config.
type dag struct {
	b *builder
	g *layers.Builder
	// calls counts the layer applications; it bounds the work a config can ask for
	// (every call of a nested model inlines the model again).
	calls int
	// ca is the call being built (multi-input builders read its keyword arguments).
	ca callArgs
}

// maxCalls bounds the layer applications of one model after inlining.
const maxCalls = 1 << 16

// at puts the chain builder at tensor t while building layer s.
func (d *dag) at(s *spec, t tensor) {
	d.b.cur = s
	d.b.phys = t.phys.Clone()
	d.b.perm = append([]int(nil), t.perm...)
	d.b.main, d.b.mask = -1, noMask // -1: t, the tensor the layer is applied to
}

// wire adds the layers the chain builder emitted since start as a chain of nodes read
// from t, and returns the tensor at the builder's current layout.
func (d *dag) wire(start int, t tensor) tensor {
	v := t.v
	vals := make([]layers.Value, len(d.b.out)-start)
	for i, n := range d.b.out[start:] {
		ins := make([]layers.Value, len(n.ins))
		for k, j := range n.ins {
			ins[k] = t.v // -1 (or an earlier node): the tensor the layer was applied to
			if j >= start {
				ins[k] = vals[j-start]
			}
		}
		v = d.g.Node(n.l, ins...)
		vals[i] = v
	}
	d.b.out = d.b.out[:start]
	return tensor{v: v, phys: d.b.phys.Clone(), perm: append([]int(nil), d.b.perm...)}
}

// arrange returns t permuted so that physical axis i is logical axis target[i].
func (d *dag) arrange(s *spec, t tensor, target []int) (tensor, error) {
	if samePerm(t.perm, target) {
		return t, nil
	}
	d.at(s, t)
	start := len(d.b.out)
	if err := d.b.arrange(target); err != nil {
		return tensor{}, err
	}
	return d.wire(start, t), nil
}

// apply builds single-input layer s on tensor t.
func (d *dag) apply(s *spec, t tensor) (tensor, error) {
	d.at(s, t)
	if err := checkSpec(d.b, s); err != nil {
		return tensor{}, err
	}
	if s.Class == "InputLayer" {
		return t, checkInnerInput(d.b, s)
	}
	f, ok := builders[s.Class]
	if !ok {
		why := unsupportedReasons[s.Class]
		if why != "" {
			why = " (" + why + ")"
		}
		return tensor{}, d.b.errf(layers.ErrUnsupported, "layer class %s is not supported%s", s.Class, why)
	}
	start := len(d.b.out)
	if err := f(d.b, s); err != nil {
		return tensor{}, err
	}
	if d.b.mask != noMask {
		return tensor{}, d.b.errf(layers.ErrUnsupported, "a mask (Embedding mask_zero or Masking) in a Functional model; masks are imported in Sequential models")
	}
	return d.wire(start, t), nil
}

// layerErr is an error about a layer entry of the config.
func (d *dag) layerErr(name, class string, kind error, format string, args ...any) error {
	return fmt.Errorf("%s: layer %q (%s): %s: %w", d.b.file, name, class, fmt.Sprintf(format, args...), kind)
}

func isModelClass(cls string) bool {
	return cls == "Sequential" || cls == "Functional" || cls == "Model"
}

// kref is a reference to a Keras tensor: the producing layer, which of its calls, and
// which of that call's outputs.
type kref struct {
	layer        string
	node, tensor int
	k2           bool // Keras 2 list form, whose node index may count a model's own first node
}

// parseRef reads [name, node, tensor(, kwargs)].
func parseRef(v any, k2 bool) (kref, bool) {
	l, ok := v.([]any)
	if !ok || len(l) < 3 {
		return kref{}, false
	}
	name, ok := l[0].(string)
	n, ok1 := asInt(l[1])
	t, ok2 := asInt(l[2])
	if !ok || !ok1 || !ok2 || name == "" || n < 0 || t < 0 {
		return kref{}, false
	}
	return kref{layer: name, node: n, tensor: t, k2: k2}, true
}

// maxModelIO bounds a model's input_layers and output_layers lists: far above real
// models (a few inputs), and it keeps a hostile list from sizing per-input work.
const maxModelIO = 1024

// parseRefs reads a model's input_layers / output_layers: one ref or a list of refs.
func parseRefs(v any, what string) ([]kref, error) {
	if v == nil {
		return nil, fmt.Errorf("Functional config has no %s (a subclassed model?): %w", what, layers.ErrUnsupported)
	}
	if _, ok := v.(map[string]any); ok {
		return nil, fmt.Errorf("Functional config %s is a dict (a model with named inputs or outputs); only lists are supported: %w", what, layers.ErrUnsupported)
	}
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return nil, fmt.Errorf("Functional config %s is %s, want a list of [layer, node, tensor]: %w", what, jsonText(v), layers.ErrBadFile)
	}
	if _, isName := l[0].(string); isName {
		l = []any{l}
	}
	if len(l) > maxModelIO {
		return nil, fmt.Errorf("Functional config %s lists %d tensors, more than %d: %w", what, len(l), maxModelIO, layers.ErrUnsupported)
	}
	out := make([]kref, 0, len(l))
	seen := map[kref]bool{}
	for _, e := range l {
		r, ok := parseRef(e, false)
		if !ok {
			return nil, fmt.Errorf("Functional config %s entry %s is not [layer, node, tensor]: %w", what, jsonText(e), layers.ErrBadFile)
		}
		// An output may be listed twice (Keras returns it twice); an input may not:
		// Keras refuses such a model, and each listed input is one the caller feeds.
		if what == "input_layers" && seen[r] {
			return nil, fmt.Errorf("Functional config input_layers lists %s twice: %w", jsonText(e), layers.ErrBadFile)
		}
		seen[r] = true
		out = append(out, r)
	}
	return out, nil
}

// nodeRefs lists the tensors one inbound node (one call) feeds the layer, in order.
// Keras 3: {"args": [...], "kwargs": {...}} with __keras_tensor__ objects; Keras 2: a
// list of [layer, node, tensor, kwargs].
func nodeRefs(node any) ([]kref, error) {
	refs, _, err := nodeCall(node)
	return refs, err
}

// callArgs describes one call beyond its tensors: how many were positional, the
// keyword names of the rest (kwTensors order), and the call's other keyword arguments.
type callArgs struct {
	pos   int
	named []string
	kw    map[string]any
}

// kwTensors are the keyword arguments that may carry tensors (MultiHeadAttention's), in
// the order their tensors follow the positional ones.
var kwTensors = []string{"query", "value", "key", "attention_mask"}

// nodeCall is nodeRefs with the call's keyword arguments.
func nodeCall(node any) ([]kref, callArgs, error) {
	ca := callArgs{}
	refs, err := nodeRefsKw(node, &ca)
	return refs, ca, err
}

func nodeRefsKw(node any, ca *callArgs) ([]kref, error) {
	switch n := node.(type) {
	case map[string]any:
		var out []kref
		var walk func(v any, depth int) error
		walk = func(v any, depth int) error {
			if depth > 16 {
				return fmt.Errorf("inbound node nests too deep: %w", layers.ErrBadFile)
			}
			switch o := v.(type) {
			case map[string]any:
				if o["class_name"] == "__keras_tensor__" {
					c, _ := o["config"].(map[string]any)
					r, ok := parseRef(c["keras_history"], false)
					if !ok {
						return fmt.Errorf("keras tensor with keras_history %s: %w", jsonText(c["keras_history"]), layers.ErrBadFile)
					}
					out = append(out, r)
					return nil
				}
				for _, e := range o {
					if err := walk(e, depth+1); err != nil {
						return err
					}
				}
			case []any:
				for _, e := range o {
					if err := walk(e, depth+1); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if err := walk(n["args"], 0); err != nil {
			return nil, err
		}
		var kw []kref
		out, kw = nil, out
		ca.pos = len(kw)
		kwm, _ := n["kwargs"].(map[string]any)
		ca.kw = map[string]any{}
		for _, name := range kwTensors {
			if v, ok := kwm[name]; ok {
				if err := walk(v, 0); err != nil {
					return nil, err
				}
				if len(out) == 1 {
					kw = append(kw, out[0])
					ca.named = append(ca.named, name)
				} else if len(out) > 1 || v != nil {
					return nil, fmt.Errorf("keyword argument %q is %s, not one tensor: %w", name, jsonText(v), layers.ErrUnsupported)
				}
				out = out[:0]
			}
		}
		for k, v := range kwm {
			if slices.Contains(kwTensors, k) {
				continue
			}
			if err := walk(v, 0); err != nil {
				return nil, err
			}
			if len(out) > 0 {
				return nil, fmt.Errorf("a tensor is passed as keyword argument %q (%s); only positional inputs are supported: %w", k, out[0].layer, layers.ErrUnsupported)
			}
			ca.kw[k] = v
		}
		return kw, nil
	case []any:
		out := make([]kref, 0, len(n))
		for _, e := range n {
			r, ok := parseRef(e, true)
			if !ok {
				return nil, fmt.Errorf("inbound tensor %s is not [layer, node, tensor, kwargs]: %w", jsonText(e), layers.ErrBadFile)
			}
			out = append(out, r)
		}
		ca.pos = len(out)
		ca.kw = map[string]any{}
		for _, e := range n {
			l, _ := e.([]any)
			if len(l) <= 3 {
				continue
			}
			kw, ok := l[3].(map[string]any)
			if !ok {
				continue
			}
			for _, name := range kwTensors {
				if v, ok := kw[name].([]any); ok {
					r, ok := parseRef(v, true)
					if !ok {
						return nil, fmt.Errorf("keyword argument %q is %s, not a tensor reference: %w", name, jsonText(v), layers.ErrBadFile)
					}
					out = append(out, r)
					ca.named = append(ca.named, name)
				}
			}
			for k, v := range kw {
				if _, isRef := v.([]any); isRef {
					if !slices.Contains(kwTensors, k) {
						return nil, fmt.Errorf("keyword argument %q is a tensor; only positional inputs are supported: %w", k, layers.ErrUnsupported)
					}
					continue
				}
				ca.kw[k] = v
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("inbound node %s is neither a Keras 3 object nor a Keras 2 list: %w", jsonText(node), layers.ErrBadFile)
}

// entry is one layer entry of a Functional config.
type entry struct {
	name, class string
	raw         map[string]any
	cfg         map[string]any
	nodes       []any
	// k2Offset is 1 for a nested model in a Keras 2 config whose first layer is an
	// InputLayer: tf.keras counts the model's own construction as its node 0, so call
	// k is referenced as node k+1.
	k2Offset int
}

func (e *entry) spec(prefix string) *spec {
	return &spec{Name: prefix + e.name, Class: e.class, Conf: &conf{m: e.cfg}, Raw: e.raw}
}

// entries reads a Functional config's layer list.
func (d *dag) entries(cfg map[string]any, prefix string) ([]*entry, map[string]*entry, error) {
	list, ok := cfg["layers"].([]any)
	if !ok {
		return nil, nil, fmt.Errorf("%s: Functional model %q has no layer list: %w", d.b.file, strings.TrimSuffix(prefix, "/"), layers.ErrBadFile)
	}
	var out []*entry
	by := map[string]*entry{}
	for i, v := range list {
		m, ok := v.(map[string]any)
		cls, _ := m["class_name"].(string)
		c, _ := m["config"].(map[string]any)
		name, _ := c["name"].(string)
		if !ok || cls == "" || c == nil || name == "" {
			return nil, nil, fmt.Errorf("%s: layer %d of model %q has no class_name, config or name: %w", d.b.file, i, strings.TrimSuffix(prefix, "/"), layers.ErrBadFile)
		}
		if strings.Contains(name, "/") {
			return nil, nil, d.layerErr(prefix+name, cls, layers.ErrBadFile, "layer names cannot contain '/'")
		}
		if by[name] != nil {
			return nil, nil, d.layerErr(prefix+name, cls, layers.ErrBadFile, "two layers of the model have this name")
		}
		e := &entry{name: name, class: cls, raw: m, cfg: c}
		switch n := m["inbound_nodes"].(type) {
		case nil:
		case []any:
			e.nodes = n
		default:
			return nil, nil, d.layerErr(prefix+name, cls, layers.ErrBadFile, "inbound_nodes is %s, not a list", jsonText(n))
		}
		if isModelClass(cls) {
			if inner, ok := c["layers"].([]any); ok && len(inner) > 0 {
				if f, ok := inner[0].(map[string]any); ok && f["class_name"] == "InputLayer" {
					e.k2Offset = 1
				}
			}
		}
		out = append(out, e)
		by[name] = e
	}
	return out, by, nil
}

// tkey names a produced Keras tensor inside one model: layer, call, output.
type tkey struct {
	layer        string
	call, output int
}

// functional builds one Functional model applied to ins (one tensor per input_layers
// entry) and returns its outputs (one per output_layers entry).
func (d *dag) functional(cfg map[string]any, prefix string, ins []tensor, depth int) ([]tensor, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("%s: models nest more than %d deep: %w", d.b.file, maxNesting, layers.ErrUnsupported)
	}
	list, by, err := d.entries(cfg, prefix)
	if err != nil {
		return nil, err
	}
	inRefs, err := parseRefs(cfg["input_layers"], "input_layers")
	if err != nil {
		return nil, fmt.Errorf("%s: model %q: %w", d.b.file, strings.TrimSuffix(prefix, "/"), err)
	}
	outRefs, err := parseRefs(cfg["output_layers"], "output_layers")
	if err != nil {
		return nil, fmt.Errorf("%s: model %q: %w", d.b.file, strings.TrimSuffix(prefix, "/"), err)
	}
	if len(inRefs) != len(ins) {
		return nil, fmt.Errorf("%s: model %q takes %d inputs, is given %d: %w", d.b.file, strings.TrimSuffix(prefix, "/"), len(inRefs), len(ins), layers.ErrShapeMismatch)
	}
	have := map[tkey]tensor{}
	for i, r := range inRefs {
		e := by[r.layer]
		if e == nil || e.class != "InputLayer" {
			return nil, fmt.Errorf("%s: model %q: input %q is not an InputLayer of the model: %w", d.b.file, strings.TrimSuffix(prefix, "/"), r.layer, layers.ErrBadFile)
		}
		t, err := d.apply(e.spec(prefix), ins[i]) // checks the declared shape
		if err != nil {
			return nil, err
		}
		have[tkey{r.layer, 0, 0}] = t
	}
	// Kahn's algorithm over calls: a call runs once every tensor it reads exists.
	type call struct {
		e    *entry
		k    int
		ca   callArgs
		refs []tkey
		wait int
	}
	var calls []*call
	waiting := map[tkey][]*call{}
	var ready []*call
	for _, e := range list {
		if e.class == "InputLayer" {
			continue
		}
		for k, n := range e.nodes {
			refs, ca, err := nodeCall(n)
			if err != nil {
				return nil, d.layerErr(prefix+e.name, e.class, layers.ErrBadFile, "call %d: %v", k, err)
			}
			if len(ca.named) > 0 && e.class != "MultiHeadAttention" {
				return nil, d.layerErr(prefix+e.name, e.class, layers.ErrUnsupported, "call %d passes tensor %q as a keyword argument; only positional inputs are supported", k, ca.named[0])
			}
			if len(refs) == 0 {
				return nil, d.layerErr(prefix+e.name, e.class, layers.ErrBadFile, "call %d has no input tensors", k)
			}
			c := &call{e: e, k: k, ca: ca}
			for _, r := range refs {
				p := by[r.layer]
				if p == nil {
					return nil, d.layerErr(prefix+e.name, e.class, layers.ErrBadFile, "reads layer %q, which the model does not have", r.layer)
				}
				node := r.node
				if r.k2 {
					node -= p.k2Offset
				}
				if node < 0 || (p.class != "InputLayer" && node >= len(p.nodes)) || (p.class == "InputLayer" && node != 0) {
					return nil, d.layerErr(prefix+e.name, e.class, layers.ErrBadFile, "reads call %d of layer %q, which has %d calls", r.node, r.layer, len(p.nodes))
				}
				key := tkey{r.layer, node, r.tensor}
				c.refs = append(c.refs, key)
				if _, ok := have[key]; !ok {
					c.wait++
					waiting[tkey{r.layer, node, -1}] = append(waiting[tkey{r.layer, node, -1}], c)
				}
			}
			calls = append(calls, c)
			if c.wait == 0 {
				ready = append(ready, c)
			}
		}
	}
	done := 0
	for len(ready) > 0 {
		c := ready[0]
		ready = ready[1:]
		done++
		if d.calls++; d.calls > maxCalls {
			return nil, fmt.Errorf("%s: the model applies more than %d layers: %w", d.b.file, maxCalls, layers.ErrUnsupported)
		}
		args := make([]tensor, len(c.refs))
		for i, r := range c.refs {
			t, ok := have[r]
			if !ok {
				return nil, d.layerErr(prefix+c.e.name, c.e.class, layers.ErrBadFile, "reads output %d of layer %q, which has no such output", r.output, r.layer)
			}
			args[i] = t
		}
		d.ca = c.ca
		outs, err := d.call(c.e, prefix, args, depth)
		if err != nil {
			return nil, err
		}
		for i, t := range outs {
			have[tkey{c.e.name, c.k, i}] = t
		}
		for _, w := range waiting[tkey{c.e.name, c.k, -1}] {
			if w.wait--; w.wait == 0 {
				ready = append(ready, w)
			}
		}
	}
	if done < len(calls) {
		for _, c := range calls {
			if c.wait > 0 {
				return nil, d.layerErr(prefix+c.e.name, c.e.class, layers.ErrBadFile, "its inputs are never computed (a cycle, or a tensor no call produces)")
			}
		}
	}
	outs := make([]tensor, len(outRefs))
	for i, r := range outRefs {
		node := r.node
		if p := by[r.layer]; p != nil && d.b.kerasMajor < 3 {
			node -= p.k2Offset
		}
		t, ok := have[tkey{r.layer, node, r.tensor}]
		if !ok {
			return nil, fmt.Errorf("%s: model %q: output %d (layer %q call %d output %d) is never computed: %w", d.b.file, strings.TrimSuffix(prefix, "/"), i, r.layer, r.node, r.tensor, layers.ErrBadFile)
		}
		outs[i] = t
	}
	return outs, nil
}

// call applies one layer entry to its inputs and returns its outputs.
func (d *dag) call(e *entry, prefix string, args []tensor, depth int) ([]tensor, error) {
	switch e.class {
	case "Functional", "Model":
		return d.functional(e.cfg, prefix+e.name+"/", args, depth+1)
	case "Sequential":
		if len(args) != 1 {
			return nil, d.layerErr(prefix+e.name, e.class, layers.ErrShapeMismatch, "a Sequential takes 1 input, is given %d", len(args))
		}
		t, err := d.sequential(e.raw, prefix+e.name+"/", args[0], depth+1)
		return []tensor{t}, err
	}
	s := e.spec(prefix)
	if f, ok := mergeBuilders[e.class]; ok {
		t, err := f(d, s, args)
		return []tensor{t}, err
	}
	if len(args) != 1 {
		return nil, d.layerErr(s.Name, s.Class, layers.ErrUnsupported, "is given %d inputs; this layer takes 1", len(args))
	}
	t, err := d.apply(s, args[0])
	return []tensor{t}, err
}

// sequential builds a Sequential model (its config entry, or a bare layer list) on t.
func (d *dag) sequential(v any, prefix string, t tensor, depth int) (tensor, error) {
	if depth > maxNesting {
		return tensor{}, fmt.Errorf("%s: models nest more than %d deep: %w", d.b.file, maxNesting, layers.ErrUnsupported)
	}
	var list []any
	switch m := v.(type) {
	case []any:
		list = m
	case map[string]any:
		switch c := m["config"].(type) {
		case []any:
			list = c
		case map[string]any:
			list, _ = c["layers"].([]any)
		}
	}
	if list == nil {
		return tensor{}, fmt.Errorf("%s: Sequential %q has no layer list: %w", d.b.file, strings.TrimSuffix(prefix, "/"), layers.ErrBadFile)
	}
	for i, le := range list {
		m, ok := le.(map[string]any)
		cls, _ := m["class_name"].(string)
		c, _ := m["config"].(map[string]any)
		if !ok || cls == "" || c == nil {
			return tensor{}, fmt.Errorf("%s: layer %d of model %q has no class_name or config: %w", d.b.file, i, strings.TrimSuffix(prefix, "/"), layers.ErrBadFile)
		}
		name, _ := c["name"].(string)
		if name == "" {
			name = fmt.Sprintf("%s_%d", strings.ToLower(cls), i)
		}
		e := &entry{name: name, class: cls, raw: m, cfg: c}
		if d.calls++; d.calls > maxCalls {
			return tensor{}, fmt.Errorf("%s: the model applies more than %d layers: %w", d.b.file, maxCalls, layers.ErrUnsupported)
		}
		outs, err := d.call(e, prefix, []tensor{t}, depth)
		if err != nil {
			return tensor{}, err
		}
		if len(outs) != 1 {
			return tensor{}, d.layerErr(prefix+name, cls, layers.ErrUnsupported, "gives %d outputs inside a Sequential, which passes on 1", len(outs))
		}
		t = outs[0]
	}
	return t, nil
}

// hasFunctional reports whether a model config is, or nests, a Functional model.
func hasFunctional(v any, depth int) bool {
	if depth > maxNesting {
		return true // let the DAG builder report the depth
	}
	var list []any
	switch m := v.(type) {
	case []any:
		list = m
	case map[string]any:
		cls, _ := m["class_name"].(string)
		if cls == "Functional" || cls == "Model" {
			return true
		}
		switch c := m["config"].(type) {
		case []any:
			list = c
		case map[string]any:
			list, _ = c["layers"].([]any)
		}
		if cls != "Sequential" {
			return false
		}
	}
	for _, e := range list {
		if hasFunctional(e, depth+1) {
			return true
		}
	}
	return false
}

// buildGraph imports a model that is, or nests, a Functional model as a DAG.
func buildGraph(m *meta, cfg map[string]any, ws weightSource, smp *Samples, file string, seqLen int) (*Model, error) {
	b := &builder{file: file, kerasMajor: kerasMajor(m.KerasVersion), ws: ws, used: map[string]bool{}}
	d := &dag{b: b, g: layers.NewBuilder()}
	cls, _ := cfg["class_name"].(string)
	mc, _ := cfg["config"].(map[string]any)
	var ins []tensor
	var outs []tensor
	var outNames []string
	dropSamples := false // samples of another length than SeqLen
	input := func(i int, name string, sp *spec, fallback []int) (tensor, error) {
		decl, err := declaredShape(sp)
		if err != nil {
			return tensor{}, fmt.Errorf("%s: layer %q (%s): %w", file, sp.Name, sp.Class, err)
		}
		if decl == nil {
			decl = fallback
		}
		if seqLen > 0 && len(decl) > 0 && decl[0] <= 0 { // a None time axis at its maximum length
			if smp != nil && i < len(smp.XShapes) && len(smp.XShapes[i]) > 1 {
				if smp.XShapes[i][1] > seqLen {
					return tensor{}, fmt.Errorf("%s: input %q: stored samples have %d steps, more than Options.SeqLen %d: %w", file, name, smp.XShapes[i][1], seqLen, layers.ErrTooLong)
				}
				if smp.XShapes[i][1] != seqLen {
					dropSamples = true
				}
			}
			decl = append([]int{seqLen}, decl[1:]...)
		}
		shape, err := fixDims(decl, smp, i)
		if err != nil {
			return tensor{}, fmt.Errorf("%s: input %q: %w", file, name, err)
		}
		dtype := layers.Float32
		if dt, _ := sp.Conf.m["dtype"].(string); sp.Class == "InputLayer" && strings.Contains(dt, "int") {
			dtype = layers.Int32 // token ids: only an Embedding may read it (Graph.Build checks)
		}
		v := d.g.Input(name, shape, dtype)
		return tensor{v: v, phys: shape, perm: identityPerm(len(shape))}, nil
	}
	switch cls {
	case "Functional", "Model":
		if mc == nil {
			return nil, fmt.Errorf("%s: model config of class %s has no config object: %w", file, cls, layers.ErrBadFile)
		}
		_, by, err := d.entries(mc, "")
		if err != nil {
			return nil, err
		}
		inRefs, err := parseRefs(mc["input_layers"], "input_layers")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for i, r := range inRefs {
			e := by[r.layer]
			if e == nil || e.class != "InputLayer" {
				return nil, fmt.Errorf("%s: input %q is not an InputLayer of the model: %w", file, r.layer, layers.ErrBadFile)
			}
			t, err := input(i, r.layer, e.spec(""), nil)
			if err != nil {
				return nil, err
			}
			ins = append(ins, t)
		}
		if outs, err = d.functional(mc, "", ins, 0); err != nil {
			return nil, err
		}
		outRefs, _ := parseRefs(mc["output_layers"], "output_layers")
		seen := map[string]int{}
		for _, r := range outRefs {
			n := r.layer
			if seen[n]++; seen[n] > 1 {
				n = fmt.Sprintf("%s_%d", n, seen[n]-1)
			}
			outNames = append(outNames, n)
		}
	case "Sequential":
		list, _ := mc["layers"].([]any)
		if list == nil {
			if l, ok := cfg["config"].([]any); ok {
				list = l
			}
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("%s: Sequential model has no layers: %w", file, layers.ErrBadFile)
		}
		first, _ := list[0].(map[string]any)
		fc, _ := first["config"].(map[string]any)
		fcls, _ := first["class_name"].(string)
		fname, _ := fc["name"].(string)
		var fallback []int
		if bc, ok := cfg["build_config"].(map[string]any); ok && bc["input_shape"] != nil {
			s, err := batchShape(bc["input_shape"])
			if err != nil {
				return nil, fmt.Errorf("%s: model build_config: %w", file, err)
			}
			fallback = s
		}
		if fc == nil {
			return nil, fmt.Errorf("%s: first layer of the Sequential has no config: %w", file, layers.ErrBadFile)
		}
		t, err := input(0, "input", &spec{Name: fname, Class: fcls, Conf: &conf{m: fc}, Raw: first}, fallback)
		if err != nil {
			return nil, err
		}
		ins = []tensor{t}
		o, err := d.sequential(cfg, "", t, 0)
		if err != nil {
			return nil, err
		}
		outs = []tensor{o}
	default:
		return nil, fmt.Errorf("%s: model class %q is not supported: %w", file, cls, layers.ErrUnsupported)
	}
	vals := make([]layers.Value, len(outs))
	for i, t := range outs {
		name := "output"
		if i < len(outNames) {
			name = outNames[i]
		}
		t, err := d.arrange(&spec{Name: name + "/output", Class: "Permute"}, t, identityPerm(len(t.perm)))
		if err != nil {
			return nil, err
		}
		if int(t.v) < len(ins) {
			// An output that is a model input: give it a node, as a graph needs one.
			t.v = d.g.Node(&layers.Identity{Info: layers.Info{Name: name, Class: "Identity"}}, t.v)
		}
		vals[i] = t.v
	}
	for _, p := range ws.paths() {
		if !b.used[p] {
			return nil, fmt.Errorf("%s: weights stored for layer %q, which the model config does not use: %w", file, p, layers.ErrBadFile)
		}
	}
	name, _ := mc["name"].(string)
	gm := map[string]string{
		"importer":      "keras",
		"file":          file,
		"source":        m.Source,
		"source_format": m.SourceFormat,
		"keras_version": m.KerasVersion,
		"model_name":    name,
	}
	if m.ConvertedFrom != "" {
		gm["converted_from"] = m.ConvertedFrom
	}
	g, err := d.g.Build(vals, outNames, gm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if dropSamples {
		smp = nil
	}
	if smp != nil {
		if err := checkSamples(g, smp, file); err != nil {
			return nil, err
		}
	}
	return &Model{Graph: g, KerasVersion: m.KerasVersion, Source: m.Source, Samples: smp}, nil
}

// fixDims fills a declared input shape's unknown dimensions from input i of the
// stored samples.
func fixDims(d []int, smp *Samples, i int) (layers.Shape, error) {
	var xs []int
	if smp != nil && i < len(smp.XShapes) {
		xs = smp.XShapes[i]
	}
	if d == nil {
		if xs == nil {
			return nil, fmt.Errorf("the model declares no input shape (add an InputLayer, or export with --samples): %w", layers.ErrUnsupported)
		}
		d = make([]int, len(xs)-1)
		for k := range d {
			d[k] = -1
		}
	}
	shape := make(layers.Shape, len(d))
	for k, x := range d {
		if x > 0 {
			shape[k] = x
			continue
		}
		if len(xs) != len(d)+1 {
			return nil, fmt.Errorf("input shape %v has unknown dimensions and no samples fix them: %w", shapeText(d), layers.ErrUnsupported)
		}
		shape[k] = xs[k+1]
	}
	if err := shape.Check(); err != nil {
		return nil, err
	}
	return shape, nil
}
