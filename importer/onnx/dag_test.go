package onnx

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// forkModel is x(N,3) -> Gemm -> h, which feeds a Relu, a Mul by a constant and the
// second output: y = relu(h) + 2*h, z = h. Fusing the Relu or folding the Mul into
// the Gemm would change what the other readers of h see.
func forkModel() *onnxpb.ModelProto {
	m := mlp()
	g := m.Graph
	g.Node = []*onnxpb.NodeProto{
		g.Node[0],
		{Name: "act", OpType: "Relu", Input: []string{"h"}, Output: []string{"r"}},
		{Name: "dbl", OpType: "Mul", Input: []string{"h", "two"}, Output: []string{"s"}},
		{Name: "res", OpType: "Add", Input: []string{"r", "s"}, Output: []string{"y"}},
	}
	g.Initializer = append(g.Initializer, floatInit("two", nil, []float32{2}))
	g.Output = []*onnxpb.ValueInfoProto{valueInfo("y", "N", 2), valueInfo("h", "N", 2)}
	return m
}

func TestForkKeepsSharedValues(t *testing.T) {
	m, err := Read(marshal(t, forkModel()), "fork.onnx")
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	if g.IsChain() || len(g.Outputs()) != 2 || g.Outputs()[1].Name != "h" {
		t.Fatalf("graph outputs %v (chain %v)", g.Outputs(), g.IsChain())
	}
	x := []float32{1, 1, 1, 1, -1, 1}
	got, err := g.ReferenceN([][]float32{x}, 2)
	if err != nil {
		t.Fatal(err)
	}
	w := []float32{1, 2, 3, -4, 5, -6} // (2, 3), transB
	bias := []float32{0.5, -0.5}
	for s := 0; s < 2; s++ {
		for o := 0; o < 2; o++ {
			h := bias[o]
			for k := 0; k < 3; k++ {
				h += x[s*3+k] * w[o*3+k]
			}
			y := float32(math.Max(float64(h), 0)) + 2*h
			if got[0][s*2+o] != y || got[1][s*2+o] != h {
				t.Fatalf("sample %d unit %d: y %v h %v, want %v %v", s, o, got[0][s*2+o], got[1][s*2+o], y, h)
			}
		}
	}
}

// TestSharedInput feeds one graph input to two branches and a second input that
// only one output reads; the inputs keep their ONNX names and order.
func TestSharedInput(t *testing.T) {
	m := mlp()
	g := m.Graph
	g.Node = append(g.Node,
		&onnxpb.NodeProto{Name: "neg", OpType: "Sub", Input: []string{"x2", "x"}, Output: []string{"d"}},
		&onnxpb.NodeProto{Name: "mx", OpType: "Max", Input: []string{"x", "d", "x2"}, Output: []string{"z"}})
	g.Input = append(g.Input, valueInfo("x2", "N", 3))
	g.Output = append(g.Output, valueInfo("z", "N", 3))
	im, err := Read(marshal(t, m), "two_in.onnx")
	if err != nil {
		t.Fatal(err)
	}
	ins := im.Graph.Inputs()
	if len(ins) != 2 || ins[0].Name != "x" || ins[1].Name != "x2" || im.InputNames[1] != "x2" {
		t.Fatalf("inputs %v", ins)
	}
	x := []float32{1, -2, 3}
	x2 := []float32{0.5, 4, -1}
	got, err := im.Graph.ReferenceN([][]float32{x, x2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for k := range x {
		want := max(x[k], x2[k]-x[k], x2[k])
		if got[1][k] != want {
			t.Fatalf("z[%d] = %v, want %v", k, got[1][k], want)
		}
	}
}

// TestMovedInputShared checks that the NCHW input of helper_dag, read by two Convs
// and a Concat that all need it channels-last, is transposed once.
func TestMovedInputShared(t *testing.T) {
	m, err := Load(filepath.Join(fixtures, "helper_dag_op17.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	n := 0
	for i := 0; i < g.Len(); i++ {
		if _, ok := g.Layer(i).(*layers.Permute); ok && g.NodeInputs(i)[0] == 0 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d transposes of the input, want 1", n)
	}
}

// TestOneInputConcatSum imports Concat and Sum of a single computed tensor (torch.cat
// of a one-element list, as DenseNet exports) as identities.
func TestOneInputConcatSum(t *testing.T) {
	m := mlp()
	g := m.Graph
	g.Node = append(g.Node,
		&onnxpb.NodeProto{Name: "cat", OpType: "Concat", Input: []string{"y"}, Output: []string{"c"},
			Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 1}}},
		&onnxpb.NodeProto{Name: "sum", OpType: "Sum", Input: []string{"c"}, Output: []string{"s"}})
	g.Output[0].Name = "s"
	im, err := Read(marshal(t, m), "cat1.onnx")
	if err != nil {
		t.Fatal(err)
	}
	got, err := im.Graph.Reference([]float32{1, 1, 1, 1, -1, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{6.5, 0, 2.5, 0}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
