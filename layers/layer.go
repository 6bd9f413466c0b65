package layers

// Info is the identity every layer carries: its name in the model and the class it was
// imported from (a Keras class name or an ONNX op type).
type Info struct {
	Name  string
	Class string
}

// LayerInfo returns the layer's identity; embedding Info gives a layer this method.
func (i *Info) LayerInfo() *Info { return i }

// Layer is one node of a graph, reading one tensor (see MultiInput for more).
// Implementations are immutable once built.
type Layer interface {
	// LayerInfo returns the layer's name and class.
	LayerInfo() *Info
	// OutputShape infers the output shape from the input shape and validates that the
	// input fits the layer's configuration and weights.
	OutputShape(in Shape) (Shape, error)
	// ScratchLen is the number of float32s of scratch Forward needs for a batch.
	ScratchLen(in Shape, batch int) int
	// Forward is the plain-Go reference pass: src holds batch*in.Size() values, dst
	// receives batch*out.Size(). dst and src do not overlap unless the layer is
	// InPlace.
	Forward(dst, src, scratch []float32, in Shape, batch int)
	// Weights lists the layer's parameter arrays (for parameter counts and fingerprints).
	Weights() [][]float32
	// Config describes the layer's options in one line (for summaries and fingerprints).
	Config() string
	// FLOPs is the floating-point operation count for one sample.
	FLOPs(in Shape) int64
}

// InPlacer is implemented by layers whose Forward may run with dst == src.
type InPlacer interface {
	InPlace() bool
}

// Identity is a layer that returns its input unchanged (Dropout, GaussianNoise and
// similar training-only layers, ONNX Identity).
type Identity struct {
	Info
}

// OutputShape implements Layer.
func (l *Identity) OutputShape(in Shape) (Shape, error) { return in.Clone(), nil }

// ScratchLen implements Layer.
func (l *Identity) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Identity) Forward(dst, src, _ []float32, _ Shape, _ int) {
	if &dst[0] != &src[0] {
		copy(dst, src)
	}
}

// InPlace implements InPlacer.
func (l *Identity) InPlace() bool { return true }

// Weights implements Layer.
func (l *Identity) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Identity) Config() string { return "identity at inference" }

// FLOPs implements Layer.
func (l *Identity) FLOPs(Shape) int64 { return 0 }

// checkLen validates a weight array's length against the configuration.
func checkLen(what string, w []float32, want int) error {
	if len(w) != want {
		return errf(ErrShapeMismatch, "%s has %d values, configuration needs %d", what, len(w), want)
	}
	return nil
}

// ParamCounter is implemented by layers whose parameter count differs from the sum of
// their weight lengths (folded layers report the count of the layer they came from).
type ParamCounter interface {
	Params() int64
}

// MultiInput is implemented by layers that read more than one tensor (merge layers).
// The graph calls the N forms; the single-input Layer methods treat the layer as
// having one input.
type MultiInput interface {
	Layer
	// OutputShapeN infers the output shape from the input shapes and validates them.
	OutputShapeN(ins []Shape) (Shape, error)
	// ScratchLenN is the scratch Forward needs for a batch.
	ScratchLenN(ins []Shape, batch int) int
	// ForwardN is the reference pass: srcs[k] holds batch samples of input k.
	ForwardN(dst []float32, srcs [][]float32, scratch []float32, ins []Shape, batch int)
	// FLOPsN is the operation count of one sample.
	FLOPsN(ins []Shape) int64
}
