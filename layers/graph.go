package layers

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/minio/highwayhash"
)

// Graph is a frozen Sequential graph: an input shape and a chain of layers, with every
// intermediate shape inferred and validated. A Graph is immutable after NewGraph.
type Graph struct {
	input  Shape
	layers []Layer
	shapes []Shape // shapes[i] is the output of layers[i]
	meta   map[string]string
}

// NewGraph validates a chain of layers against an input shape (without batch axis) and
// returns the frozen graph. meta carries free-form provenance (source file, format,
// framework version); it may be nil.
func NewGraph(input Shape, ls []Layer, meta map[string]string) (*Graph, error) {
	if err := input.Check(); err != nil {
		return nil, fmt.Errorf("model input: %w", err)
	}
	if len(ls) == 0 {
		return nil, errf(ErrInvalid, "model has no layers")
	}
	g := &Graph{input: input.Clone(), layers: append([]Layer(nil), ls...), meta: map[string]string{}}
	for k, v := range meta {
		g.meta[k] = v
	}
	cur := g.input
	for _, l := range g.layers {
		out, err := l.OutputShape(cur)
		if err != nil {
			return nil, layerErr(l, err)
		}
		if err := out.Check(); err != nil {
			return nil, layerErr(l, err)
		}
		g.shapes = append(g.shapes, out)
		cur = out
	}
	return g, nil
}

// Input is the model's input shape (without batch).
func (g *Graph) Input() Shape { return g.input.Clone() }

// Output is the model's output shape (without batch).
func (g *Graph) Output() Shape { return g.shapes[len(g.shapes)-1].Clone() }

// Len is the number of layers.
func (g *Graph) Len() int { return len(g.layers) }

// Layer returns layer i.
func (g *Graph) Layer(i int) Layer { return g.layers[i] }

// InShape is the input shape of layer i.
func (g *Graph) InShape(i int) Shape {
	if i == 0 {
		return g.input.Clone()
	}
	return g.shapes[i-1].Clone()
}

// OutShape is the output shape of layer i.
func (g *Graph) OutShape(i int) Shape { return g.shapes[i].Clone() }

// Meta returns a provenance value ("" when absent).
func (g *Graph) Meta(key string) string { return g.meta[key] }

// Params is the total parameter count.
func (g *Graph) Params() int64 {
	var n int64
	for _, l := range g.layers {
		n += ParamCount(l)
	}
	return n
}

// FLOPs is the floating-point operation count of one sample.
func (g *Graph) FLOPs() int64 {
	var n int64
	for i, l := range g.layers {
		n += l.FLOPs(g.InShape(i))
	}
	return n
}

// ParamCount is the number of parameters a layer holds.
func ParamCount(l Layer) int64 {
	if pc, ok := l.(ParamCounter); ok {
		return pc.Params()
	}
	var n int64
	for _, w := range l.Weights() {
		n += int64(len(w))
	}
	return n
}

// fingerprintKey is a fixed HighwayHash key: fingerprints are identifiers, not MACs.
var fingerprintKey = []byte("kinfer graph fingerprint key v1!")

// Fingerprint is a HighwayHash-128 of the graph's structure and weights, in hex. Two
// graphs with the same layers, options and weights (names aside) have the same
// fingerprint.
func (g *Graph) Fingerprint() string {
	h, _ := highwayhash.New128(fingerprintKey)
	var buf [8]byte
	put := func(s string) {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	put(g.input.String())
	for _, l := range g.layers {
		put(l.LayerInfo().Class)
		put(l.Config())
		for _, w := range l.Weights() {
			binary.LittleEndian.PutUint64(buf[:], uint64(len(w)))
			h.Write(buf[:])
			b := make([]byte, 4*len(w))
			for i, v := range w {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
			}
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Reference runs the plain-Go reference pass over a batch. It allocates; it is the
// numerical truth for tests, not the fast path (see runtime.Compile).
func (g *Graph) Reference(x []float32, batch int) ([]float32, error) {
	if batch < 1 || len(x) != batch*g.input.Size() {
		return nil, errf(ErrShapeMismatch, "input has %d values, want batch %d x %v", len(x), batch, g.input)
	}
	cur := append([]float32(nil), x...)
	for i, l := range g.layers {
		in := g.InShape(i)
		out := make([]float32, batch*g.shapes[i].Size())
		scratch := make([]float32, l.ScratchLen(in, batch))
		l.Forward(out, cur, scratch, in, batch)
		cur = out
	}
	return cur, nil
}
