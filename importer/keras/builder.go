package keras

import (
	"fmt"
	"math"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// weightSource yields the weight arrays of a layer path, in get_weights() order.
type weightSource interface {
	// layerWeights returns the arrays stored for path (nil if none).
	layerWeights(path string) ([]*array, error)
	// paths lists every layer path that has weights.
	paths() []string
}

// builder turns the flattened layer specs into layers.Layer values while tracking the
// tensor layout.
//
// Keras tensors are in the model's own layout (channels_first layers see (C, H, W));
// kinfer's runtime is NHWC. The builder keeps the physical tensor (phys, what the
// emitted layers produce) and perm, the map from physical to Keras (logical) axes:
// physical axis i is logical axis perm[i]. A layer that needs a particular physical
// arrangement (channels_first Conv2D needs (H, W, C) = logical axes [1, 2, 0]; Dense
// needs the logical last axis last) gets a layers.Permute in front of it when the
// current arrangement differs, and the graph ends in the logical (Keras) layout.
type builder struct {
	file       string
	kerasMajor int
	ws         weightSource
	used       map[string]bool

	out    []bnode // the graph's nodes, in order
	main   int     // the node producing the current tensor (-1: the model input)
	mask   int     // the node producing the current mask (noMask: none)
	inType layers.DType
	phys   layers.Shape
	perm   []int
	nPerm  int
	perm1D []int // layout of the sequence a 1-D layer viewed as 2-D

	stateful bool // a recurrent layer has stateful=True

	cur *spec
}

// bnode is one graph node: a layer and the nodes it reads (-1: the model input).
type bnode struct {
	l   layers.Layer
	ins []int
}

// noMask is builder.mask when no mask flows with the tensor.
const noMask = -2

// buildFunc maps one Keras layer onto zero or more kinfer layers.
type buildFunc func(b *builder, s *spec) error

// builders is the table of supported Keras layer classes.
var builders map[string]buildFunc

func init() {
	builders = map[string]buildFunc{
		"InputLayer":             buildInput,
		"Dense":                  buildDense,
		"Conv2D":                 buildConv2D,
		"DepthwiseConv2D":        buildDepthwise,
		"SeparableConv2D":        buildSeparable,
		"MaxPooling2D":           buildPool(true),
		"MaxPool2D":              buildPool(true),
		"AveragePooling2D":       buildPool(false),
		"AvgPool2D":              buildPool(false),
		"GlobalAveragePooling2D": buildGlobalPool(false),
		"GlobalAvgPool2D":        buildGlobalPool(false),
		"GlobalMaxPooling2D":     buildGlobalPool(true),
		"GlobalMaxPool2D":        buildGlobalPool(true),
		"Flatten":                buildFlatten,
		"Reshape":                buildReshape,
		"Permute":                buildPermute,
		"Activation":             buildActivation,
		"ReLU":                   buildReLU,
		"LeakyReLU":              buildLeakyReLU,
		"ELU":                    buildELU,
		"PReLU":                  buildPReLU,
		"Softmax":                buildSoftmax,
		"BatchNormalization":     buildBatchNorm,
		"Rescaling":              buildRescaling,
		"Normalization":          buildNormalization,
		"ZeroPadding2D":          buildZeroPad,
		"LSTM":                   buildLSTM,
		"GRU":                    buildRecurrent,
		"SimpleRNN":              buildRecurrent,
		"Bidirectional":          buildBidirectional,
		"TimeDistributed":        buildTimeDistributed,
		"Conv1D":                 buildConv1D,
		"MaxPooling1D":           buildPool1D(true),
		"MaxPool1D":              buildPool1D(true),
		"AveragePooling1D":       buildPool1D(false),
		"AvgPool1D":              buildPool1D(false),
		"GlobalAveragePooling1D": buildGlobalPool1D(false),
		"GlobalAvgPool1D":        buildGlobalPool1D(false),
		"GlobalMaxPooling1D":     buildGlobalPool1D(true),
		"GlobalMaxPool1D":        buildGlobalPool1D(true),
		"Conv2DTranspose":        buildConv2DTranspose,
		"Convolution2DTranspose": buildConv2DTranspose,
		"UpSampling2D":           buildUpSampling2D,
		"Cropping1D":             buildCropping1D,
		"Cropping2D":             buildCropping2D,
		"LayerNormalization":     buildLayerNorm,
		"Embedding":              buildEmbedding,
		"EinsumDense":            buildEinsumDense,
		"Masking":                buildMasking,
	}
	for _, c := range []string{
		// Identity at inference.
		"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
		"GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
		// Augmentation layers: identity at inference.
		"RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
		"RandomContrast", "RandomBrightness", "RandomHeight",
		"RandomWidth", "RandomGrayscale", "RandomHue", "RandomSaturation",
		"RandomSharpness", "RandomShear", "RandomColorJitter", "RandomColorDegeneration",
		"RandomPosterization", "RandomErasing", "RandomGaussianBlur", "RandomInvert",
		"RandomPerspective", "RandomElasticTransform", "AutoContrast", "Solarization",
		"RandAugment", "AugMix", "MixUp", "CutMix",
	} {
		builders[c] = buildIdentity
	}
	addBuilders3D(builders)
}

// unsupportedReasons explains common classes kinfer does not implement.
var unsupportedReasons = map[string]string{
	"Lambda":     "Lambda layers hold Python code",
	"RandomCrop": "RandomCrop center-crops at inference",
}

var inf = math.Inf(1)

// ---------------------------------------------------------------- errors

func (b *builder) errf(kind error, format string, args ...any) error {
	return fmt.Errorf("%s: layer %q (%s): %s: %w", b.file, b.cur.Name, b.cur.Class, fmt.Sprintf(format, args...), kind)
}

func (b *builder) wrap(err error) error {
	return fmt.Errorf("%s: layer %q (%s): %w", b.file, b.cur.Name, b.cur.Class, err)
}

func (b *builder) unsupported(option string, v any) error {
	return b.errf(layers.ErrUnsupported, "%s=%s is not supported", option, jsonText(v))
}

// confErr returns the first bad config field of s, wrapped with the layer.
func (b *builder) confErr(s *spec) error {
	if s.Conf.err != nil {
		return b.wrap(s.Conf.err)
	}
	return nil
}

// ---------------------------------------------------------------- layout

func identityPerm(r int) []int {
	p := make([]int, r)
	for i := range p {
		p[i] = i
	}
	return p
}

func samePerm(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// logical is the current tensor shape as Keras sees it.
func (b *builder) logical() layers.Shape {
	l := make(layers.Shape, len(b.phys))
	for i, p := range b.perm {
		l[p] = b.phys[i]
	}
	return l
}

// emit validates l on the current physical shape and appends it; newPerm is the
// layout of its output (nil keeps the current one).
func (b *builder) emit(l layers.Layer, newPerm []int) error {
	out, err := l.OutputShape(b.phys)
	if err == nil {
		err = out.Check()
	}
	if err != nil {
		in := l.LayerInfo()
		if in.Name != b.cur.Name {
			return b.wrap(fmt.Errorf("%s: %w", in.Name, err))
		}
		return b.wrap(err)
	}
	if newPerm == nil {
		newPerm = b.perm
	}
	if len(newPerm) != len(out) {
		newPerm = identityPerm(len(out))
	}
	if err := b.node(l, out); err != nil {
		return err
	}
	b.phys = out
	b.perm = append([]int(nil), newPerm...)
	return nil
}

// arrange permutes the physical tensor so that physical axis i is logical axis
// target[i].
func (b *builder) arrange(target []int) error {
	if samePerm(b.perm, target) {
		return nil
	}
	q := make([]int, len(target))
	for i, t := range target {
		q[i] = -1
		for j, p := range b.perm {
			if p == t {
				q[i] = j
			}
		}
	}
	b.nPerm++
	name := fmt.Sprintf("%s/kinfer_permute", b.cur.Name)
	if b.nPerm > 1 {
		name = fmt.Sprintf("%s_%d", name, b.nPerm)
	}
	// A permutation that keeps the order of the axes longer than 1 moves no data:
	// emit it as a (free) Reshape.
	moves, last := false, -1
	shape := make(layers.Shape, len(q))
	for i, j := range q {
		if j < 0 || j >= len(b.phys) {
			return b.errf(layers.ErrInvalid, "internal: layout %v cannot reach %v", b.perm, target)
		}
		shape[i] = b.phys[j]
		if b.phys[j] > 1 {
			moves = moves || j < last
			last = j
		}
	}
	if !moves {
		return b.emit(&layers.Reshape{Info: layers.Info{Name: name, Class: "Reshape"}, Target: shape}, target)
	}
	return b.emit(&layers.Permute{Info: layers.Info{Name: name, Class: "Permute"}, Perm: q}, target)
}

// kerasLayout puts the tensor back in the Keras layout.
func (b *builder) kerasLayout() error { return b.arrange(identityPerm(len(b.perm))) }

// lastAxis makes logical axis a the physical last axis (the axis Dense, Softmax and
// per-channel scaling act on), keeping the others in order when it must move.
func (b *builder) lastAxis(a int) error {
	r := len(b.perm)
	if r == 0 || b.perm[r-1] == a {
		return nil
	}
	t := make([]int, 0, r)
	for i := 0; i < r; i++ {
		if i != a {
			t = append(t, i)
		}
	}
	return b.arrange(append(t, a))
}

// spatial arranges a rank-3 image tensor as (H, W, C) for a layer with the given
// data_format.
func (b *builder) spatial(s *spec, df string) error {
	if len(b.phys) != 3 {
		return b.errf(layers.ErrShapeMismatch, "expects an image input (H, W, C) plus batch, got %v", b.logical())
	}
	switch df {
	case "channels_last":
		return b.kerasLayout()
	case "channels_first":
		return b.arrange([]int{1, 2, 0})
	}
	return b.errf(layers.ErrInvalid, "data_format %q", df)
}

func (b *builder) dataFormat(s *spec) string {
	df := s.Conf.str("data_format", "channels_last")
	return strings.ToLower(df)
}

// ---------------------------------------------------------------- weights

// weightsBias is weights for a layer with a kernel and, when bias, a bias array.
func (b *builder) weightsBias(s *spec, what string, bias bool) ([]*array, error) {
	if bias {
		return b.weights(s, what, 2)
	}
	return b.weights(s, what, 1)
}

// weights returns the layer's arrays; their count must be one of counts.
func (b *builder) weights(s *spec, what string, counts ...int) ([]*array, error) {
	b.used[s.Name] = true
	ws, err := b.ws.layerWeights(s.Name)
	if err != nil {
		return nil, b.wrap(err)
	}
	for _, n := range counts {
		if len(ws) == n {
			return ws, nil
		}
	}
	if len(ws) == 0 {
		return nil, b.errf(layers.ErrBadFile, "no weights stored for this layer (config needs %s)", what)
	}
	want := fmt.Sprint(counts[0])
	if len(counts) > 1 {
		want = fmt.Sprintf("one of %v", counts)
	}
	return nil, b.errf(layers.ErrShapeMismatch, "has %d weight arrays, config needs %s (%s)", len(ws), want, what)
}

func dims(s []int) string {
	if len(s) == 0 {
		return "a scalar"
	}
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = fmt.Sprint(d)
	}
	return strings.Join(p, "x")
}

// checkShape compares a weight's shape to what the config needs, and only then
// reads its payload (weights arrive with their header's shape and no data).
func (b *builder) checkShape(what string, a *array, want ...int) error {
	if !samePerm(a.Shape, want) {
		return b.errf(layers.ErrShapeMismatch, "%s is %s, config needs %s", what, dims(a.Shape), dims(want))
	}
	if err := a.fetch(); err != nil {
		return b.wrap(err)
	}
	return nil
}

// fetchAtMost reads a weight whose shape the config does not fix, once its element
// count is known to be at most limit.
func (b *builder) fetchAtMost(what string, a *array, limit int) error {
	n := 1
	for _, d := range a.Shape {
		n *= d // bounded: headers are checked against layers.MaxElements
	}
	if n > limit {
		return b.errf(layers.ErrShapeMismatch, "%s is %s, more than the %d values the layer can use", what, dims(a.Shape), limit)
	}
	if err := a.fetch(); err != nil {
		return b.wrap(err)
	}
	return nil
}

// ---------------------------------------------------------------- activations

func (b *builder) act(s *spec, key, def string) (layers.Activation, error) {
	v, ok := s.Conf.get(key)
	if !ok {
		v = def
	}
	a, err := activation(v, b.kerasMajor)
	if err != nil {
		if key != "activation" {
			err = fmt.Errorf("%s: %w", key, err)
		}
		return a, b.wrap(err)
	}
	return a, nil
}

// splitAct reports whether a fused activation cannot run inside the layer: the
// softmax family acts on the logical last axis, which must be the physical last one.
func (b *builder) splitAct(a layers.Activation) bool {
	r := len(b.perm)
	return !a.PerElement() && r > 0 && b.perm[r-1] != r-1
}

// applyAct emits a standalone activation (softmax over the logical last axis).
func (b *builder) applyAct(name string, a layers.Activation) error {
	if a.IsLinear() {
		return nil
	}
	if !a.PerElement() {
		if err := b.lastAxis(len(b.perm) - 1); err != nil {
			return err
		}
	}
	return b.emit(&layers.ActivationLayer{Info: layers.Info{Name: name, Class: "Activation"}, Act: a}, nil)
}

func info(s *spec) layers.Info { return layers.Info{Name: s.Name, Class: s.Class} }

// ---------------------------------------------------------------- builders

func buildInput(b *builder, s *spec) error {
	b.used[s.Name] = true
	return nil
}

func buildIdentity(b *builder, s *spec) error {
	return b.emit(&layers.Identity{Info: info(s)}, nil)
}

func buildDense(b *builder, s *spec) error {
	c := s.Conf
	units := c.integer("units", 0)
	bias := c.boolean("use_bias", true)
	if err := b.confErr(s); err != nil {
		return err
	}
	act, err := b.act(s, "activation", "linear")
	if err != nil {
		return err
	}
	if units <= 0 {
		return b.errf(layers.ErrInvalid, "units=%d", units)
	}
	if len(b.phys) == 0 {
		return b.errf(layers.ErrShapeMismatch, "input %v has no feature axis", b.logical())
	}
	if err := b.lastAxis(len(b.perm) - 1); err != nil {
		return err
	}
	in := b.phys.Last()
	if kerasInt8(s) {
		return buildInt8Dense(b, s, in, units, bias, act) // model.quantize("int8"): builder_quant.go
	}
	ws, err := b.weightsBias(s, "kernel, bias", bias)
	if err != nil {
		return err
	}
	if err := b.checkShape("kernel", ws[0], in, units); err != nil {
		return err
	}
	d := &layers.Dense{Info: info(s), In: in, Units: units, W: ws[0].Data, Act: act}
	if bias {
		if err := b.checkShape("bias", ws[1], units); err != nil {
			return err
		}
		d.B = ws[1].Data
	}
	return b.emit(d, nil)
}

// window reads kernel/pool size, strides, dilation and padding.
func (b *builder) window(s *spec, sizeKey string, defSize []int, stridesDefault []int, dilation bool) (layers.Window, error) {
	k, st, d, pad, err := b.windowConf(s, 2, sizeKey, defSize, stridesDefault, dilation)
	if err != nil {
		return layers.Window{}, err
	}
	w := layers.Window{KH: k[0], KW: k[1], SH: st[0], SW: st[1], DH: d[0], DW: d[1], Pad: pad}
	if w.KH <= 0 || w.KW <= 0 || w.SH <= 0 || w.SW <= 0 || w.DH <= 0 || w.DW <= 0 {
		return w, b.errf(layers.ErrInvalid, "window %dx%d, strides %dx%d, dilation %dx%d must be positive", w.KH, w.KW, w.SH, w.SW, w.DH, w.DW)
	}
	if (w.SH > 1 || w.SW > 1) && (w.DH > 1 || w.DW > 1) {
		return w, b.errf(layers.ErrInvalid, "strides > 1 together with dilation_rate > 1")
	}
	return w, nil
}

// windowConf reads a rank-n window's size (sizeKey, default defSize), strides (default
// stridesDefault, or the size when nil), dilation_rate (1s unless dilation) and
// padding ("valid" or "same"); callers check the values.
func (b *builder) windowConf(s *spec, n int, sizeKey string, defSize, stridesDefault []int, dilation bool) (k, st, d []int, pad layers.Padding, err error) {
	c := s.Conf
	if k = c.ints(sizeKey, n, defSize); k == nil {
		return nil, nil, nil, 0, b.errf(layers.ErrInvalid, "missing %s", sizeKey)
	}
	if stridesDefault == nil {
		stridesDefault = k
	}
	st = c.ints("strides", n, stridesDefault)
	d = make([]int, n)
	for i := range d {
		d[i] = 1
	}
	if dilation {
		d = c.ints("dilation_rate", n, d)
	}
	p := strings.ToLower(c.str("padding", "valid"))
	if err = b.confErr(s); err != nil {
		return nil, nil, nil, 0, err
	}
	switch p {
	case "valid":
		return k, st, d, layers.PadValid, nil
	case "same":
		return k, st, d, layers.PadSame, nil
	}
	return nil, nil, nil, 0, b.errf(layers.ErrInvalid, "padding %q", p)
}

// emitConv emits a convolution (any rank, or transposed) whose fused activation is
// *slot; a softmax-family activation runs as its own layer when the logical last axis is
// not the physical last one (channels_first).
func (b *builder) emitConv(conv layers.Layer, slot *layers.Activation, act layers.Activation) error {
	split := b.splitAct(act) // spatial layers keep the layout, so decide on the input's
	*slot = act
	if split {
		*slot = layers.ActLinear
	}
	if err := b.emit(conv, nil); err != nil {
		return err
	}
	if split {
		return b.applyAct(conv.LayerInfo().Name+"/activation", act)
	}
	return nil
}

func buildConv2D(b *builder, s *spec) error {
	c := s.Conf
	filters := c.integer("filters", 0)
	groups := c.integer("groups", 1)
	bias := c.boolean("use_bias", true)
	df := b.dataFormat(s)
	w, err := b.window(s, "kernel_size", nil, []int{1, 1}, true)
	if err != nil {
		return err
	}
	act, err := b.act(s, "activation", "linear")
	if err != nil {
		return err
	}
	if filters <= 0 || groups <= 0 {
		return b.errf(layers.ErrInvalid, "filters=%d groups=%d", filters, groups)
	}
	if err := b.spatial(s, df); err != nil {
		return err
	}
	conv, err := b.convLayer(s, w, filters, groups, bias, w.KH, w.KW)
	if err != nil {
		return err
	}
	return b.emitConv(conv, &conv.Act, act)
}

func buildDepthwise(b *builder, s *spec) error {
	c := s.Conf
	dm := c.integer("depth_multiplier", 1)
	bias := c.boolean("use_bias", true)
	df := b.dataFormat(s)
	w, err := b.window(s, "kernel_size", nil, []int{1, 1}, true)
	if err != nil {
		return err
	}
	act, err := b.act(s, "activation", "linear")
	if err != nil {
		return err
	}
	if dm <= 0 {
		return b.errf(layers.ErrInvalid, "depth_multiplier=%d", dm)
	}
	if err := b.spatial(s, df); err != nil {
		return err
	}
	in := b.phys[2]
	ws, err := b.weightsBias(s, "depthwise_kernel, bias", bias)
	if err != nil {
		return err
	}
	// (kh, kw, in, dm) read as (kh, kw, 1, in*dm): output channel c*dm+m, as Keras.
	if err := b.checkShape("depthwise_kernel", ws[0], w.KH, w.KW, in, dm); err != nil {
		return err
	}
	conv := &layers.Conv2D{Info: info(s), Window: w, In: in, Filters: in * dm, Groups: in, W: ws[0].Data}
	if bias {
		if err := b.checkShape("bias", ws[1], in*dm); err != nil {
			return err
		}
		conv.B = ws[1].Data
	}
	return b.emitConv(conv, &conv.Act, act)
}

func buildSeparable(b *builder, s *spec) error {
	c := s.Conf
	filters := c.integer("filters", 0)
	dm := c.integer("depth_multiplier", 1)
	bias := c.boolean("use_bias", true)
	df := b.dataFormat(s)
	w, err := b.window(s, "kernel_size", nil, []int{1, 1}, true)
	if err != nil {
		return err
	}
	act, err := b.act(s, "activation", "linear")
	if err != nil {
		return err
	}
	if dm <= 0 || filters <= 0 {
		return b.errf(layers.ErrInvalid, "filters=%d depth_multiplier=%d", filters, dm)
	}
	if err := b.spatial(s, df); err != nil {
		return err
	}
	in := b.phys[2]
	n := 2
	if bias {
		n = 3
	}
	ws, err := b.weights(s, "depthwise_kernel, pointwise_kernel, bias", n)
	if err != nil {
		return err
	}
	if err := b.checkShape("depthwise_kernel", ws[0], w.KH, w.KW, in, dm); err != nil {
		return err
	}
	if err := b.checkShape("pointwise_kernel", ws[1], 1, 1, in*dm, filters); err != nil {
		return err
	}
	dw := &layers.Conv2D{Info: layers.Info{Name: s.Name + "/depthwise", Class: s.Class}, Window: w,
		In: in, Filters: in * dm, Groups: in, W: ws[0].Data, Act: layers.ActLinear}
	if err := b.emit(dw, nil); err != nil {
		return err
	}
	pw := &layers.Conv2D{Info: info(s), Window: layers.Window{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1},
		In: in * dm, Filters: filters, Groups: 1, W: ws[1].Data}
	if bias {
		if err := b.checkShape("bias", ws[2], filters); err != nil {
			return err
		}
		pw.B = ws[2].Data
	}
	return b.emitConv(pw, &pw.Act, act)
}

func buildPool(isMax bool) buildFunc {
	return func(b *builder, s *spec) error {
		df := b.dataFormat(s)
		w, err := b.window(s, "pool_size", []int{2, 2}, nil, false)
		if err != nil {
			return err
		}
		if err := b.spatial(s, df); err != nil {
			return err
		}
		return b.emit(&layers.Pool2D{Info: info(s), Window: w, Max: isMax}, nil)
	}
}

func buildGlobalPool(isMax bool) buildFunc {
	return func(b *builder, s *spec) error {
		df := b.dataFormat(s)
		keep := s.Conf.boolean("keepdims", false)
		if err := b.confErr(s); err != nil {
			return err
		}
		if err := b.spatial(s, df); err != nil {
			return err
		}
		return b.emit(&layers.GlobalPool2D{Info: info(s), Max: isMax, KeepDims: keep}, nil)
	}
}

func buildFlatten(b *builder, s *spec) error {
	df := b.dataFormat(s)
	if err := b.confErr(s); err != nil {
		return err
	}
	r := len(b.perm)
	switch {
	case df == "channels_first" && r > 1:
		// Keras transposes (C, d1, ..., dn) to (d1, ..., dn, C) before flattening.
		t := make([]int, 0, r)
		for i := 1; i < r; i++ {
			t = append(t, i)
		}
		if err := b.arrange(append(t, 0)); err != nil {
			return err
		}
	case df == "channels_first" || df == "channels_last":
		if err := b.kerasLayout(); err != nil {
			return err
		}
	default:
		return b.errf(layers.ErrInvalid, "data_format %q", df)
	}
	return b.emit(&layers.Reshape{Info: info(s), Target: layers.Shape{-1}}, []int{0})
}

func buildReshape(b *builder, s *spec) error {
	t, ok := s.Conf.intList("target_shape")
	if err := b.confErr(s); err != nil {
		return err
	}
	if !ok {
		return b.errf(layers.ErrInvalid, "missing target_shape")
	}
	if err := b.kerasLayout(); err != nil {
		return err
	}
	return b.emit(&layers.Reshape{Info: info(s), Target: layers.Shape(t)}, nil)
}

func buildPermute(b *builder, s *spec) error {
	d, ok := s.Conf.intList("dims")
	if err := b.confErr(s); err != nil {
		return err
	}
	if !ok {
		return b.errf(layers.ErrInvalid, "missing dims")
	}
	r := len(b.perm)
	if len(d) != r {
		return b.errf(layers.ErrShapeMismatch, "dims %v do not fit input %v", d, b.logical())
	}
	p := make([]int, r)
	seen := make([]bool, r)
	for i, x := range d {
		// Keras counts the batch axis: dims are 1-based.
		if x < 1 || x > r || seen[x-1] {
			return b.errf(layers.ErrInvalid, "dims %v is not a permutation of 1..%d", d, r)
		}
		seen[x-1] = true
		p[i] = x - 1
	}
	if err := b.kerasLayout(); err != nil {
		return err
	}
	return b.emit(&layers.Permute{Info: info(s), Perm: p}, identityPerm(r))
}

func buildActivation(b *builder, s *spec) error {
	a, err := b.act(s, "activation", "linear")
	if err != nil {
		return err
	}
	return b.emitAct(s, a)
}

// emitAct emits an activation layer for spec s (softmax over the logical last axis).
func (b *builder) emitAct(s *spec, a layers.Activation) error {
	if err := a.Validate(); err != nil {
		return b.wrap(err)
	}
	if !a.PerElement() {
		if err := b.lastAxis(len(b.perm) - 1); err != nil {
			return err
		}
	}
	return b.emit(&layers.ActivationLayer{Info: info(s), Act: a}, nil)
}

func buildReLU(b *builder, s *spec) error {
	c := s.Conf
	mx := c.float("max_value", inf)
	slope := c.float("negative_slope", 0)
	thr := c.float("threshold", 0)
	if err := b.confErr(s); err != nil {
		return err
	}
	if mx < 0 || slope < 0 {
		return b.errf(layers.ErrInvalid, "max_value=%g negative_slope=%g must not be negative", mx, slope)
	}
	return b.emitAct(s, layers.Activation{Kind: layers.ReLU, Alpha: float32(slope), Max: float32(mx), Threshold: float32(thr)})
}

func buildLeakyReLU(b *builder, s *spec) error {
	c := s.Conf
	slope := 0.3
	if c.has("negative_slope") {
		slope = c.float("negative_slope", 0.3)
	} else {
		slope = c.float("alpha", 0.3)
	}
	if err := b.confErr(s); err != nil {
		return err
	}
	return b.emitAct(s, layers.LeakyReLU(float32(slope)))
}

func buildELU(b *builder, s *spec) error {
	alpha := s.Conf.float("alpha", 1)
	if err := b.confErr(s); err != nil {
		return err
	}
	return b.emitAct(s, layers.Activation{Kind: layers.Elu, Alpha: float32(alpha)})
}

// axis normalizes a Keras axis (which counts the batch axis) to a logical axis.
func (b *builder) axis(s *spec, key string, def int) (int, error) {
	l, ok := s.Conf.intList(key)
	if err := b.confErr(s); err != nil {
		return 0, err
	}
	ax := def
	if ok {
		if len(l) != 1 {
			return 0, b.errf(layers.ErrUnsupported, "%s=%v (only a single axis is supported)", key, l)
		}
		ax = l[0]
	}
	r := len(b.perm)
	switch {
	case ax < 0 && ax >= -r:
		return r + ax, nil
	case ax > 0 && ax <= r:
		return ax - 1, nil
	}
	return 0, b.errf(layers.ErrInvalid, "%s=%d out of range for input %v", key, ax, b.logical())
}

func buildSoftmax(b *builder, s *spec) error {
	ax, err := b.axis(s, "axis", -1)
	if err != nil {
		return err
	}
	if err := b.lastAxis(ax); err != nil {
		return err
	}
	return b.emit(&layers.ActivationLayer{Info: info(s), Act: layers.Activation{Kind: layers.Softmax}}, nil)
}

func buildBatchNorm(b *builder, s *spec) error {
	c := s.Conf
	eps := c.float("epsilon", 1e-3)
	center := c.boolean("center", true)
	scale := c.boolean("scale", true)
	renorm := c.boolean("renorm", false)
	if err := b.confErr(s); err != nil {
		return err
	}
	if renorm {
		return b.unsupported("renorm", true)
	}
	ax, err := b.axis(s, "axis", -1)
	if err != nil {
		return err
	}
	n := 2
	if center {
		n++
	}
	if scale {
		n++
	}
	ws, err := b.weights(s, "gamma?, beta?, moving_mean, moving_variance", n)
	if err != nil {
		return err
	}
	ch := b.logical()[ax]
	names := []string{}
	if scale {
		names = append(names, "gamma")
	}
	if center {
		names = append(names, "beta")
	}
	names = append(names, "moving_mean", "moving_variance")
	var orig int64
	for i, w := range ws {
		if err := b.checkShape(names[i], w, ch); err != nil {
			return err
		}
		orig += int64(len(w.Data))
	}
	var gamma, beta []float32
	i := 0
	if scale {
		gamma = ws[i].Data
		i++
	}
	if center {
		beta = ws[i].Data
		i++
	}
	sc, sh, err := layers.FoldBatchNorm(gamma, beta, ws[i].Data, ws[i+1].Data, eps)
	if err != nil {
		return b.wrap(err)
	}
	if err := b.lastAxis(ax); err != nil {
		return err
	}
	return b.emit(&layers.Affine{Info: info(s), Scale: sc, Shift: sh, OrigParams: orig}, nil)
}

// floats reads a number, a (nested) list of numbers, or a Keras 3 serialized numpy
// array ({"class_name": "__numpy__", "config": {"value": ...}}).
func floats(v any) ([]float32, bool) {
	switch x := v.(type) {
	case float64:
		return []float32{float32(x)}, true
	case []any:
		var out []float32
		for _, e := range x {
			f, ok := floats(e)
			if !ok {
				return nil, false
			}
			out = append(out, f...)
		}
		return out, true
	case map[string]any:
		if c, ok := x["config"].(map[string]any); ok {
			return floats(c["value"])
		}
	}
	return nil, false
}

func buildRescaling(b *builder, s *spec) error {
	get := func(key string, def float32) ([]float32, error) {
		v, ok := s.Conf.get(key)
		if !ok {
			return []float32{def}, nil
		}
		f, ok := floats(v)
		if !ok || len(f) == 0 {
			return nil, b.errf(layers.ErrInvalid, "%s=%s is not a number or list of numbers", key, jsonText(v))
		}
		return f, nil
	}
	sc, err := get("scale", 1)
	if err != nil {
		return err
	}
	sh, err := get("offset", 0)
	if err != nil {
		return err
	}
	if len(sc) > 1 || len(sh) > 1 {
		if len(b.perm) == 0 {
			return b.errf(layers.ErrShapeMismatch, "per-channel scale on a scalar input")
		}
		if err := b.lastAxis(len(b.perm) - 1); err != nil {
			return err
		}
	}
	// Keras counts no parameters for Rescaling (scale and offset are constants).
	return b.emit(&layers.Affine{Info: info(s), Scale: sc, Shift: sh, OrigParams: -1}, nil)
}

func buildZeroPad(b *builder, s *spec) error {
	df := b.dataFormat(s)
	v, ok := s.Conf.get("padding")
	if !ok {
		v = 1.0
	}
	bad := func() error { return b.errf(layers.ErrInvalid, "padding=%s", jsonText(v)) }
	var p [4]int
	if x, ok := asInt(v); ok {
		p = [4]int{x, x, x, x}
	} else if l, ok := v.([]any); ok && len(l) == 2 {
		for i, e := range l {
			if x, ok := asInt(e); ok {
				p[2*i], p[2*i+1] = x, x
				continue
			}
			t, ok := e.([]any)
			if !ok || len(t) != 2 {
				return bad()
			}
			for j, f := range t {
				x, ok := asInt(f)
				if !ok {
					return bad()
				}
				p[2*i+j] = x
			}
		}
	} else {
		return bad()
	}
	for _, x := range p {
		if x < 0 {
			return bad()
		}
	}
	if err := b.confErr(s); err != nil {
		return err
	}
	if err := b.spatial(s, df); err != nil {
		return err
	}
	return b.emit(&layers.ZeroPad2D{Info: info(s), Pads: p}, nil)
}

// lstmFrom builds an LSTM from its config and its weight arrays.
func (b *builder) lstmFrom(s *spec, c *conf, ws []*array, in int, name string) (*layers.LSTM, error) {
	units := c.integer("units", 0)
	bias := c.boolean("use_bias", true)
	retSeq := c.boolean("return_sequences", false)
	back := c.boolean("go_backwards", false)
	for _, k := range []string{"return_state", "time_major"} {
		if c.boolean(k, false) {
			return nil, b.unsupported(k, true)
		}
	}
	if c.err != nil {
		return nil, b.wrap(c.err)
	}
	actv, ok := c.get("activation")
	if !ok {
		actv = "tanh"
	}
	recv, ok := c.get("recurrent_activation")
	if !ok {
		recv = "sigmoid"
	}
	act, err := activation(actv, b.kerasMajor)
	if err != nil {
		return nil, b.wrap(fmt.Errorf("activation: %w", err))
	}
	rec, err := activation(recv, b.kerasMajor)
	if err != nil {
		return nil, b.wrap(fmt.Errorf("recurrent_activation: %w", err))
	}
	if units <= 0 {
		return nil, b.errf(layers.ErrInvalid, "units=%d", units)
	}
	n := 2
	if bias {
		n = 3
	}
	if len(ws) != n {
		return nil, b.errf(layers.ErrShapeMismatch, "%shas %d weight arrays, config needs %d (kernel, recurrent_kernel, bias)", name, len(ws), n)
	}
	if err := b.checkShape(name+"kernel", ws[0], in, 4*units); err != nil {
		return nil, err
	}
	if err := b.checkShape(name+"recurrent_kernel", ws[1], units, 4*units); err != nil {
		return nil, err
	}
	l := &layers.LSTM{Info: info(s), In: in, Units: units, W: ws[0].Data, U: ws[1].Data,
		Act: act, RecAct: rec, ReturnSequences: retSeq, GoBackwards: back,
		ZeroMaskedOutput: c.boolean("zero_output_for_mask", false)}
	if c.boolean("stateful", false) {
		b.stateful = true
	}
	if bias {
		if err := b.checkShape(name+"bias", ws[2], 4*units); err != nil {
			return nil, err
		}
		l.B = ws[2].Data
	}
	return l, nil
}

func (b *builder) sequenceInput() (int, error) {
	if len(b.phys) != 2 {
		return 0, b.errf(layers.ErrShapeMismatch, "expects a sequence input (timesteps, features) plus batch, got %v", b.logical())
	}
	if err := b.kerasLayout(); err != nil {
		return 0, err
	}
	return b.phys[1], nil
}

func buildLSTM(b *builder, s *spec) error {
	in, err := b.sequenceInput()
	if err != nil {
		return err
	}
	bias := s.Conf.boolean("use_bias", true)
	n := 2
	if bias {
		n = 3
	}
	ws, err := b.weights(s, "kernel, recurrent_kernel, bias", n)
	if err != nil {
		return err
	}
	l, err := b.lstmFrom(s, s.Conf, ws, in, "")
	if err != nil {
		return err
	}
	return b.emit(l, nil)
}

// innerLayer reads a wrapper's wrapped layer entry.
func innerLayer(v any) (string, *conf, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", nil, false
	}
	cls, _ := m["class_name"].(string)
	cfg, _ := m["config"].(map[string]any)
	if cls == "" || cfg == nil {
		return "", nil, false
	}
	return cls, &conf{m: cfg}, true
}

// buildTimeDistributed supports wrapped layers that act on the last axis alone
// (Dense, activations, dropout), for which TimeDistributed changes nothing.
func buildTimeDistributed(b *builder, s *spec) error {
	cls, ic, ok := innerLayer(s.Conf.m["layer"])
	if !ok {
		return b.errf(layers.ErrInvalid, "missing wrapped layer")
	}
	switch cls {
	case "Dense", "Activation", "ReLU", "LeakyReLU", "ELU", "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout":
	case "LSTM", "GRU", "SimpleRNN", "Bidirectional":
		return b.timeDistributedRecurrent(s, cls, ic)
	default:
		return b.errf(layers.ErrUnsupported, "TimeDistributed(%s) (only Dense and element-wise layers are supported)", cls)
	}
	if len(b.phys) < 2 {
		return b.errf(layers.ErrShapeMismatch, "expects an input with a time axis, got %v", b.logical())
	}
	inner := &spec{Name: s.Name, Class: s.Class + "(" + cls + ")", Conf: ic, Raw: s.Raw}
	prev := b.cur
	b.cur = inner
	defer func() { b.cur = prev }()
	return builders[cls](b, inner)
}

// buildNormalization maps the Normalization preprocessing layer, (x - mean) /
// max(sqrt(variance), 1e-7) (or its inverse), onto an Affine. mean and variance come
// from the config or from the weights [mean, variance, count].
func buildNormalization(b *builder, s *spec) error {
	c := s.Conf
	invert := c.boolean("invert", false)
	if err := b.confErr(s); err != nil {
		return err
	}
	ax := -1 // -1: one mean for every element (axis=None)
	if v, ok := c.get("axis"); ok {
		if l, isList := v.([]any); !isList || len(l) > 0 {
			a, err := b.axis(s, "axis", -1)
			if err != nil {
				return err
			}
			ax = a
		}
	}
	var mean, variance []float32
	orig := int64(-1)
	mv, mok := c.get("mean")
	vv, vok := c.get("variance")
	if mok != vok {
		return b.errf(layers.ErrInvalid, "only one of mean and variance is set")
	}
	if mok {
		var ok1, ok2 bool
		mean, ok1 = floats(mv)
		variance, ok2 = floats(vv)
		if !ok1 || !ok2 || len(mean) == 0 || len(mean) != len(variance) {
			return b.errf(layers.ErrInvalid, "mean=%s variance=%s", jsonText(mv), jsonText(vv))
		}
	} else {
		ws, err := b.weights(s, "mean, variance, count", 2, 3)
		if err != nil {
			return err
		}
		for i, w := range ws {
			if err := b.fetchAtMost([]string{"mean", "variance", "count"}[i], w, max(1, b.phys.Size())); err != nil {
				return err
			}
		}
		mean, variance = ws[0].Data, ws[1].Data
		orig = 0
		for _, w := range ws {
			orig += int64(len(w.Data))
		}
	}
	n := 1
	if ax >= 0 {
		n = b.logical()[ax]
	}
	if (len(mean) != 1 && len(mean) != n) || len(variance) != len(mean) {
		return b.errf(layers.ErrShapeMismatch, "mean and variance have %d and %d values, axis has %d", len(mean), len(variance), n)
	}
	if ax < 0 && len(mean) != 1 {
		return b.errf(layers.ErrUnsupported, "axis=None with %d means", len(mean))
	}
	scale, shift := make([]float32, len(mean)), make([]float32, len(mean))
	for i := range mean {
		sd := math.Max(math.Sqrt(float64(variance[i])), 1e-7)
		if invert {
			scale[i], shift[i] = float32(sd), mean[i]
		} else {
			scale[i] = float32(1 / sd)
			shift[i] = -mean[i] * scale[i]
		}
	}
	if len(mean) > 1 {
		if err := b.lastAxis(ax); err != nil {
			return err
		}
	}
	return b.emit(&layers.Affine{Info: info(s), Scale: scale, Shift: shift, OrigParams: orig}, nil)
}

// ---------------------------------------------------------------- 1-D layers
//
// 1-D convolution and pooling run as their 2-D forms on a (1, steps, channels) view:
// a Reshape in front and one behind, which move no data.

// seq1D arranges a (steps, channels) tensor for a 1-D layer and reshapes it to
// (1, steps, channels).
func (b *builder) seq1D(s *spec, df string) error {
	if len(b.phys) != 2 {
		return b.errf(layers.ErrShapeMismatch, "expects a sequence input (steps, channels) plus batch, got %v", b.logical())
	}
	switch df {
	case "channels_last":
		if err := b.kerasLayout(); err != nil {
			return err
		}
	case "channels_first":
		if err := b.arrange([]int{1, 0}); err != nil {
			return err
		}
	default:
		return b.errf(layers.ErrInvalid, "data_format %q", df)
	}
	keep := b.perm
	if err := b.emit(&layers.Reshape{Info: layers.Info{Name: s.Name + "/to_2d", Class: "Reshape"}, Target: layers.Shape{1, b.phys[0], b.phys[1]}}, []int{0, 1, 2}); err != nil {
		return err
	}
	b.perm1D = keep
	return nil
}

// back1D reshapes a (1, steps, channels) result back to (steps, channels) in the
// layout seq1D recorded.
func (b *builder) back1D(s *spec) error {
	if len(b.phys) != 3 || b.phys[0] != 1 {
		return b.errf(layers.ErrShapeMismatch, "internal: 1-D result %v is not (1, steps, channels)", b.phys)
	}
	return b.emit(&layers.Reshape{Info: layers.Info{Name: s.Name + "/to_1d", Class: "Reshape"}, Target: layers.Shape{b.phys[1], b.phys[2]}}, b.perm1D)
}

// window1D reads a 1-D window as a 1 x k 2-D one; "causal" pads k-1 dilated steps
// on the left.
func (b *builder) window1D(s *spec, sizeKey string, defSize []int, stridesDefault []int, dilation bool) (layers.Window, error) {
	c := s.Conf
	k := c.ints(sizeKey, 1, defSize)
	if k == nil {
		return layers.Window{}, b.errf(layers.ErrInvalid, "missing %s", sizeKey)
	}
	if stridesDefault == nil {
		stridesDefault = k
	}
	st := c.ints("strides", 1, stridesDefault)
	d := []int{1}
	if dilation {
		d = c.ints("dilation_rate", 1, d)
	}
	pad := strings.ToLower(c.str("padding", "valid"))
	if err := b.confErr(s); err != nil {
		return layers.Window{}, err
	}
	w := layers.Window{KH: 1, KW: k[0], SH: 1, SW: st[0], DH: 1, DW: d[0]}
	if w.KW <= 0 || w.SW <= 0 || w.DW <= 0 {
		return w, b.errf(layers.ErrInvalid, "window %d, stride %d, dilation %d must be positive", w.KW, w.SW, w.DW)
	}
	switch pad {
	case "valid":
		w.Pad = layers.PadValid
	case "same":
		w.Pad = layers.PadSame
	case "causal":
		if !dilation {
			return w, b.errf(layers.ErrInvalid, "padding %q", pad)
		}
		w.Pad = layers.PadExplicit
		w.Pads = [4]int{0, 0, (w.KW - 1) * w.DW, 0}
	default:
		return w, b.errf(layers.ErrInvalid, "padding %q", pad)
	}
	return w, nil
}

// convLayer checks that the current input's channels split into groups, loads the
// kernel (shape kernelDims..., in/groups, filters) and optional bias, and returns the
// Conv2D that Conv1D and Conv2D share.
func (b *builder) convLayer(s *spec, w layers.Window, filters, groups int, bias bool, kernelDims ...int) (*layers.Conv2D, error) {
	in := b.phys[2]
	if in%groups != 0 || filters%groups != 0 {
		return nil, b.errf(layers.ErrInvalid, "%d input channels and %d filters do not split into %d groups", in, filters, groups)
	}
	ws, err := b.weightsBias(s, "kernel, bias", bias)
	if err != nil {
		return nil, err
	}
	if err := b.checkShape("kernel", ws[0], append(kernelDims, in/groups, filters)...); err != nil {
		return nil, err
	}
	conv := &layers.Conv2D{Info: info(s), Window: w, In: in, Filters: filters, Groups: groups, W: ws[0].Data}
	if bias {
		if err := b.checkShape("bias", ws[1], filters); err != nil {
			return nil, err
		}
		conv.B = ws[1].Data
	}
	return conv, nil
}

func buildConv1D(b *builder, s *spec) error {
	c := s.Conf
	filters := c.integer("filters", 0)
	groups := c.integer("groups", 1)
	bias := c.boolean("use_bias", true)
	df := b.dataFormat(s)
	w, err := b.window1D(s, "kernel_size", nil, []int{1}, true)
	if err != nil {
		return err
	}
	act, err := b.act(s, "activation", "linear")
	if err != nil {
		return err
	}
	if filters <= 0 || groups <= 0 {
		return b.errf(layers.ErrInvalid, "filters=%d groups=%d", filters, groups)
	}
	if err := b.seq1D(s, df); err != nil {
		return err
	}
	conv, err := b.convLayer(s, w, filters, groups, bias, w.KW)
	if err != nil {
		return err
	}
	split := !act.PerElement() && df == "channels_first"
	conv.Act = act
	if split {
		conv.Act = layers.ActLinear
	}
	if err := b.emit(conv, nil); err != nil {
		return err
	}
	if err := b.back1D(s); err != nil {
		return err
	}
	if split {
		return b.applyAct(s.Name+"/activation", act)
	}
	return nil
}

func buildPool1D(isMax bool) buildFunc {
	return func(b *builder, s *spec) error {
		df := b.dataFormat(s)
		w, err := b.window1D(s, "pool_size", []int{2}, nil, false)
		if err != nil {
			return err
		}
		if err := b.seq1D(s, df); err != nil {
			return err
		}
		if err := b.emit(&layers.Pool2D{Info: info(s), Window: w, Max: isMax}, nil); err != nil {
			return err
		}
		return b.back1D(s)
	}
}

func buildGlobalPool1D(isMax bool) buildFunc {
	return func(b *builder, s *spec) error {
		df := b.dataFormat(s)
		keep := s.Conf.boolean("keepdims", false)
		if err := b.confErr(s); err != nil {
			return err
		}
		if b.mask != noMask {
			if done, err := b.maskedPool1D(s, isMax, df, keep); done || err != nil {
				return err
			}
		}
		if err := b.seq1D(s, df); err != nil {
			return err
		}
		if err := b.emit(&layers.GlobalPool2D{Info: info(s), Max: isMax}, []int{0}); err != nil {
			return err
		}
		if !keep {
			return nil
		}
		// keepdims: (1, C) for channels_last, (C, 1) for channels_first.
		t := layers.Shape{1, b.phys[0]}
		if df == "channels_first" {
			t = layers.Shape{b.phys[0], 1}
		}
		return b.emit(&layers.Reshape{Info: layers.Info{Name: s.Name + "/keepdims", Class: "Reshape"}, Target: t}, []int{0, 1})
	}
}
