package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
	"google.golang.org/protobuf/proto"
)

// TestAttentionMutations imports structural mutations of the torch attention fixtures
// (each node in turn: an input dropped, inputs swapped, the op renamed, an int attribute
// changed, the output renamed): each must import or fail with a named error, never
// panic (read has no recover), and an import must still have the graph's one output.
func TestAttentionMutations(t *testing.T) {
	for _, name := range []string{"torch_mha_kpm.onnx", "torch_enc_post_op13.onnx"} {
		path := filepath.Join("..", "..", "testdata", "attention", name)
		m, err := LoadWith(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		att := 0
		for i := range m.Graph.Len() {
			if _, ok := m.Graph.Layer(i).(*layers.MultiHeadAttention); ok {
				att++
			}
		}
		if att == 0 {
			t.Fatalf("%s: no MultiHeadAttention imported", name)
		}
		orig := &onnxpb.ModelProto{}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(data, orig); err != nil {
			t.Fatal(err)
		}
		nn := len(orig.GetGraph().GetNode())
		step := 1
		if testing.Short() {
			step = 7
		}
		for i := 0; i < nn; i += step {
			for kind := range 5 {
				mm := proto.Clone(orig).(*onnxpb.ModelProto)
				n := mm.GetGraph().GetNode()[i]
				switch kind {
				case 0:
					if len(n.Input) == 0 {
						continue
					}
					n.Input = n.Input[:len(n.Input)-1]
				case 1:
					if len(n.Input) < 2 {
						continue
					}
					n.Input[0], n.Input[1] = n.Input[1], n.Input[0]
				case 2:
					n.OpType = map[string]string{"MatMul": "Add", "Softmax": "Relu", "Transpose": "Identity", "Reshape": "Identity"}[n.OpType]
					if n.OpType == "" {
						n.OpType = "Mul"
					}
				case 3:
					changed := false
					for _, a := range n.Attribute {
						if len(a.Ints) > 1 {
							a.Ints[0], a.Ints[1] = a.Ints[1], a.Ints[0]
							changed = true
						} else if a.Type == onnxpb.AttributeProto_INT {
							a.I++
							changed = true
						}
					}
					if !changed {
						continue
					}
				case 4:
					if len(n.Output) == 0 {
						continue
					}
					n.Output[0] += "_renamed"
				}
				b, err := proto.Marshal(mm)
				if err != nil {
					t.Fatal(err)
				}
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("%s node %d (%s) mutation %d: panic %v", name, i, orig.GetGraph().GetNode()[i].GetOpType(), kind, p)
						}
					}()
					_, err := read(b, "mutated.onnx", Options{})
					if err != nil && !errors.Is(err, layers.ErrBadFile) && !errors.Is(err, layers.ErrUnsupported) &&
						!errors.Is(err, layers.ErrInvalid) && !errors.Is(err, layers.ErrShapeMismatch) && !errors.Is(err, layers.ErrTooLarge) {
						t.Fatalf("%s node %d mutation %d: error without a named kind: %v", name, i, kind, err)
					}
				}()
			}
		}
	}
}
