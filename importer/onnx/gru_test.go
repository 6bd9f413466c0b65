package onnx

import (
	"errors"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// recModel is x(N, 4, 3) -> Transpose -> op (GRU or RNN, hidden 2, Y_h) -> Squeeze -> y.
func recModel(op string, gates int) *onnxpb.ModelProto {
	h, in := 2, 3
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for k := range v {
			v[k] = float32(k%7)*0.1 - 0.3
		}
		return v
	}
	return &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: "", Version: 14}},
		Graph: &onnxpb.GraphProto{
			Name: "rec",
			Node: []*onnxpb.NodeProto{
				{Name: "tr", OpType: "Transpose", Input: []string{"x"}, Output: []string{"xt"},
					Attribute: []*onnxpb.AttributeProto{{Name: "perm", Type: onnxpb.AttributeProto_INTS, Ints: []int64{1, 0, 2}}}},
				{Name: "rec", OpType: op, Input: []string{"xt", "W", "R", "B"}, Output: []string{"", "yh"},
					Attribute: []*onnxpb.AttributeProto{{Name: "hidden_size", Type: onnxpb.AttributeProto_INT, I: int64(h)}}},
				{Name: "sq", OpType: "Squeeze", Input: []string{"yh", "zero"}, Output: []string{"y"}},
			},
			Initializer: []*onnxpb.TensorProto{
				floatInit("W", []int64{1, int64(gates * h), int64(in)}, vals(gates*h*in)),
				floatInit("R", []int64{1, int64(gates * h), int64(h)}, vals(gates*h*h)),
				floatInit("B", []int64{1, int64(2 * gates * h)}, vals(2*gates*h)),
				{Name: "zero", Dims: []int64{1}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{0}},
			},
			Input:  []*onnxpb.ValueInfoProto{valueInfo("x", "N", 4, in)},
			Output: []*onnxpb.ValueInfoProto{valueInfo("y", "N", h)},
		},
	}
}

// TestRecurrentNodes: hand-built GRU and RNN nodes import as the layers with the gate
// layout and bias folding the ONNX formulas need (checked numerically against a direct
// evaluation in TestFixtures; here the structure), and malformed ones fail with the
// named error.
func TestRecurrentNodes(t *testing.T) {
	for _, lbr := range []int64{0, 1} {
		m := recModel("GRU", 3)
		m.Graph.Node[1].Attribute = append(m.Graph.Node[1].Attribute, &onnxpb.AttributeProto{Name: "linear_before_reset", Type: onnxpb.AttributeProto_INT, I: lbr})
		got, err := Read(marshal(t, m), "gru.onnx")
		if err != nil {
			t.Fatal(err)
		}
		g, ok := got.Graph.Layer(0).(*layers.GRU)
		if !ok || g.ResetAfter != (lbr == 1) || (g.RB != nil) != (lbr == 1) || g.ReturnSequences || len(g.B) != 6 {
			t.Fatalf("lbr=%d: %T %s", lbr, got.Graph.Layer(0), got.Graph.Layer(0).Config())
		}
		// W row (gate z, unit 1) of input 2 lands at kernel[2][1] (Keras layout)
		if g.W[2*6+1] != float32((1*3+2)%7)*0.1-0.3 {
			t.Errorf("lbr=%d: kernel not transposed to (in, 3h)", lbr)
		}
	}
	m, err := Read(marshal(t, recModel("RNN", 1)), "rnn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := m.Graph.Layer(0).(*layers.SimpleRNN); !ok || r.Act.Kind != layers.Tanh || len(r.B) != 2 {
		t.Fatalf("RNN: %T", m.Graph.Layer(0))
	}

	for _, tc := range []struct {
		name   string
		op     string
		edit   func(m *onnxpb.ModelProto)
		kind   error
		substr string
	}{
		{"clip", "GRU", func(m *onnxpb.ModelProto) {
			m.Graph.Node[1].Attribute = append(m.Graph.Node[1].Attribute, &onnxpb.AttributeProto{Name: "clip", Type: onnxpb.AttributeProto_FLOAT, F: 3})
		}, layers.ErrUnsupported, "clip"},
		{"linear_before_reset 2", "GRU", func(m *onnxpb.ModelProto) {
			m.Graph.Node[1].Attribute = append(m.Graph.Node[1].Attribute, &onnxpb.AttributeProto{Name: "linear_before_reset", Type: onnxpb.AttributeProto_INT, I: 2})
		}, layers.ErrInvalid, "linear_before_reset"},
		{"W of an LSTM", "GRU", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer[0] = floatInit("W", []int64{1, 8, 3}, make([]float32, 24))
		}, layers.ErrShapeMismatch, "W"},
		{"B short", "RNN", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer[2] = floatInit("B", []int64{1, 2}, make([]float32, 2))
		}, layers.ErrShapeMismatch, "B"},
		{"direction", "RNN", func(m *onnxpb.ModelProto) {
			m.Graph.Node[1].Attribute = append(m.Graph.Node[1].Attribute, &onnxpb.AttributeProto{Name: "direction", Type: onnxpb.AttributeProto_STRING, S: []byte("sideways")})
		}, layers.ErrInvalid, "direction"},
		{"activation", "RNN", func(m *onnxpb.ModelProto) {
			m.Graph.Node[1].Attribute = append(m.Graph.Node[1].Attribute, &onnxpb.AttributeProto{Name: "activations", Type: onnxpb.AttributeProto_STRINGS, Strings: [][]byte{[]byte("ThresholdedRelu")}})
		}, layers.ErrUnsupported, "ThresholdedRelu"},
		{"activations count", "GRU", func(m *onnxpb.ModelProto) {
			m.Graph.Node[1].Attribute = append(m.Graph.Node[1].Attribute, &onnxpb.AttributeProto{Name: "activations", Type: onnxpb.AttributeProto_STRINGS, Strings: [][]byte{[]byte("Sigmoid")}})
		}, layers.ErrInvalid, "activations"},
		{"W not constant", "GRU", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer = m.Graph.Initializer[1:]
		}, nil, "W"},
		{"constant sequence_lens short", "GRU", func(m *onnxpb.ModelProto) {
			m.Graph.Node[1].Input = append(m.Graph.Node[1].Input, "lens")
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: "lens", Dims: []int64{2}, DataType: int32(onnxpb.TensorProto_INT32), Int32Data: []int32{4, 2}})
		}, layers.ErrUnsupported, "constant sequence_lens[1] = 2, not the"},
		{"sequence_lens float input", "RNN", func(m *onnxpb.ModelProto) {
			m.Graph.Node[1].Input = append(m.Graph.Node[1].Input, "lens")
			m.Graph.Input = append(m.Graph.Input, valueInfo("lens", "N"))
		}, layers.ErrUnsupported, "sequence_lens \"lens\" must be a graph input of int32/int64 lengths"},
		{"sequence_lens two per entry", "GRU", func(m *onnxpb.ModelProto) {
			m.Graph.Node[1].Input = append(m.Graph.Node[1].Input, "lens")
			vi := valueInfo("lens", "N", 2)
			vi.Type.GetTensorType().ElemType = int32(onnxpb.TensorProto_INT64)
			m.Graph.Input = append(m.Graph.Input, vi)
		}, layers.ErrUnsupported, "one per batch entry"},
		{"computed initial h", "GRU", func(m *onnxpb.ModelProto) {
			m.Graph.Node[1].Input = append(m.Graph.Node[1].Input, "", "h0")
			m.Graph.Input = append(m.Graph.Input, valueInfo("h0", "N", 1, 2))
		}, layers.ErrUnsupported, "input 5 (\"h0\") is computed"},
	} {
		m := recModel(tc.op, map[string]int{"GRU": 3, "RNN": 1}[tc.op])
		tc.edit(m)
		_, err := Read(marshal(t, m), "bad.onnx")
		if err == nil || (tc.kind != nil && !errors.Is(err, tc.kind)) || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("%s: err = %v, want %v naming %q", tc.name, err, tc.kind, tc.substr)
		}
	}
}
