package onnx

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

func floatInit(name string, dims []int64, vals []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(vals))
	for k, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: raw}
}

func valueInfo(name string, dims ...any) *onnxpb.ValueInfoProto {
	var ds []*onnxpb.TensorShapeProto_Dimension
	for _, d := range dims {
		switch v := d.(type) {
		case int:
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(v)}})
		case string:
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: v}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(onnxpb.TensorProto_FLOAT), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
}

// mlp is x(N,3) -> Gemm(3->2, transB) -> Relu -> y.
func mlp() *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: "", Version: 17}},
		Graph: &onnxpb.GraphProto{
			Name: "mlp",
			Node: []*onnxpb.NodeProto{
				{Name: "fc", OpType: "Gemm", Input: []string{"x", "w", "b"}, Output: []string{"h"},
					Attribute: []*onnxpb.AttributeProto{{Name: "transB", Type: onnxpb.AttributeProto_INT, I: 1}}},
				{Name: "act", OpType: "Relu", Input: []string{"h"}, Output: []string{"y"}},
			},
			Initializer: []*onnxpb.TensorProto{
				floatInit("w", []int64{2, 3}, []float32{1, 2, 3, -4, 5, -6}),
				floatInit("b", []int64{2}, []float32{0.5, -0.5}),
			},
			Input:  []*onnxpb.ValueInfoProto{valueInfo("x", "N", 3)},
			Output: []*onnxpb.ValueInfoProto{valueInfo("y", "N", 2)},
		},
	}
}

func marshal(t testing.TB, m *onnxpb.ModelProto) []byte {
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestHandBuiltMLP(t *testing.T) {
	m, err := Read(marshal(t, mlp()), "mlp.onnx")
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Graph.Reference([]float32{1, 1, 1, 1, -1, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{6.5, 0, 2.5, 0}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if m.InputName != "x" || m.OutputName != "y" || m.Opset != 17 {
		t.Errorf("model %+v", m)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(m *onnxpb.ModelProto)
		kind   error
		substr string
	}{
		{"external data", func(m *onnxpb.ModelProto) {
			w := m.Graph.Initializer[0]
			w.RawData = nil
			w.DataLocation = onnxpb.TensorProto_EXTERNAL
			w.ExternalData = []*onnxpb.StringStringEntryProto{{Key: "location", Value: "weights.bin"}}
		}, layers.ErrUnsupported, "external"},
		{"raw size", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].RawData = m.Graph.Initializer[0].RawData[:20] }, layers.ErrBadFile, "raw_data"},
		{"huge dims", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{1 << 40, 1 << 20} }, layers.ErrBadFile, "exceed"},
		{"huge dims fit product", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{1 << 20, 1 << 10} }, layers.ErrBadFile, "raw_data"},
		{"negative dims", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{-2, -3} }, layers.ErrBadFile, "negative"},
		{"float_data count", func(m *onnxpb.ModelProto) {
			w := m.Graph.Initializer[0]
			w.RawData, w.FloatData = nil, []float32{1, 2}
		}, layers.ErrBadFile, "holds 2 values"},
		{"missing input", func(m *onnxpb.ModelProto) { m.Graph.Node[1].Input[0] = "nope" }, layers.ErrBadFile, "not produced"},
		{"cycle", func(m *onnxpb.ModelProto) {
			m.Graph.Node[0].Input[0] = "z"
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "loop", OpType: "Relu", Input: []string{"y"}, Output: []string{"z"}})
		}, layers.ErrBadFile, "cycle"},
		{"duplicate output", func(m *onnxpb.ModelProto) { m.Graph.Node[1].Output[0] = "h" }, layers.ErrBadFile, "twice"},
		{"unsupported op", func(m *onnxpb.ModelProto) { m.Graph.Node[1].OpType = "Mish" }, layers.ErrUnsupported, `node "act" (Mish)`},
		{"unsupported attribute", func(m *onnxpb.ModelProto) {
			m.Graph.Node[0].Attribute = append(m.Graph.Node[0].Attribute, &onnxpb.AttributeProto{Name: "bogus", Type: onnxpb.AttributeProto_INT, I: 1})
		}, layers.ErrUnsupported, "attribute bogus"},
		{"transA", func(m *onnxpb.ModelProto) {
			m.Graph.Node[0].Attribute = append(m.Graph.Node[0].Attribute, &onnxpb.AttributeProto{Name: "transA", Type: onnxpb.AttributeProto_INT, I: 1})
		}, layers.ErrUnsupported, "transA"},
		{"attribute type", func(m *onnxpb.ModelProto) { m.Graph.Node[0].Attribute[0].Type = onnxpb.AttributeProto_FLOAT }, layers.ErrBadFile, "transB"},
		{"mod of computed tensors", func(m *onnxpb.ModelProto) {
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "ratio", OpType: "Mod", Input: []string{"y", "h"}, Output: []string{"s"}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrUnsupported, `node "ratio" (Mod)`},
		{"constant beside computed", func(m *onnxpb.ModelProto) {
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "mx", OpType: "Max", Input: []string{"y", "h", "b"}, Output: []string{"s"}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrUnsupported, `node "mx" (Max): unsupported: input 2 ("b")`},
		{"concat on batch", func(m *onnxpb.ModelProto) {
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "cat", OpType: "Concat", Input: []string{"y", "h"}, Output: []string{"s"},
				Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 0}}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrUnsupported, `node "cat" (Concat)`},
		{"merge not broadcasting", func(m *onnxpb.ModelProto) {
			m.Graph.Node = append(m.Graph.Node,
				&onnxpb.NodeProto{Name: "fc2", OpType: "Gemm", Input: []string{"x", "w3"}, Output: []string{"h3"}},
				&onnxpb.NodeProto{Name: "sum", OpType: "Sum", Input: []string{"y", "h3"}, Output: []string{"s"}})
			m.Graph.Initializer = append(m.Graph.Initializer, floatInit("w3", []int64{3, 3}, make([]float32, 9)))
			m.Graph.Output[0].Name = "s"
		}, layers.ErrShapeMismatch, `node "sum" (Sum)`},
		{"huge Tile", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: "reps", Dims: []int64{2}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{1, 1 << 24}})
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "tile", OpType: "Tile", Input: []string{"y", "reps"}, Output: []string{"s"}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrTooLarge, `node "tile" (Tile)`},
		{"tile the batch", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: "reps", Dims: []int64{2}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{2, 1}})
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "tile", OpType: "Tile", Input: []string{"y", "reps"}, Output: []string{"s"}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrUnsupported, "tiling the batch axis"},
		{"reflect pad wider than the axis", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: "pads", Dims: []int64{4}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{0, 2, 0, 0}})
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "pad", OpType: "Pad", Input: []string{"y", "pads"}, Output: []string{"s"},
				Attribute: []*onnxpb.AttributeProto{{Name: "mode", Type: onnxpb.AttributeProto_STRING, S: []byte("reflect")}}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrInvalid, `node "pad" (Pad)`},
		{"split sizes not summing", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: "parts", Dims: []int64{2}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{1, 2}})
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "split", OpType: "Split", Input: []string{"y", "parts"}, Output: []string{"s", "s2"},
				Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 1}}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrInvalid, `node "split" (Split)`},
		{"old broadcast with axis", func(m *onnxpb.ModelProto) {
			m.OpsetImport[0].Version = 6
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "add", OpType: "Add", Input: []string{"y", "b"}, Output: []string{"s"},
				Attribute: []*onnxpb.AttributeProto{{Name: "broadcast", Type: onnxpb.AttributeProto_INT, I: 1}, {Name: "axis", Type: onnxpb.AttributeProto_INT, I: 2}}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrInvalid, `node "add" (Add): invalid configuration: broadcast axis 2`},
		{"Reshape-1 without inputs", func(m *onnxpb.ModelProto) {
			m.OpsetImport[0].Version = 6
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "rs", OpType: "Reshape", Output: []string{"s"},
				Attribute: []*onnxpb.AttributeProto{{Name: "shape", Type: onnxpb.AttributeProto_INTS, Ints: []int64{2}}}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrBadFile, `node "rs" (Reshape): bad file: no inputs`},
		{"Upsample without inputs", func(m *onnxpb.ModelProto) {
			m.OpsetImport[0].Version = 9
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "up", OpType: "Upsample", Output: []string{"s"}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrBadFile, `node "up" (Upsample): bad file: no inputs`},
		{"Upsample-7 with scales and an input", func(m *onnxpb.ModelProto) {
			m.OpsetImport[0].Version = 7
			m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{Name: "up", OpType: "Upsample", Input: []string{"y", "b", "b"}, Output: []string{"s"}})
			m.Graph.Output[0].Name = "s"
		}, layers.ErrBadFile, `node "up" (Upsample)`},
		{"old opset", func(m *onnxpb.ModelProto) { m.OpsetImport[0].Version = 5 }, layers.ErrUnsupported, "opset 5"},
		{"inputs with different batch", func(m *onnxpb.ModelProto) {
			m.Graph.Input = []*onnxpb.ValueInfoProto{valueInfo("x", 2, 3), valueInfo("x2", 3, 3)}
		}, layers.ErrUnsupported, "batch size 3"},
		{"repeated input", func(m *onnxpb.ModelProto) { m.Graph.Input = append(m.Graph.Input, valueInfo("x", "N", 3)) }, layers.ErrBadFile, "repeated"},
		{"symbolic feature dim", func(m *onnxpb.ModelProto) { m.Graph.Input[0] = valueInfo("x", "N", "F") }, layers.ErrUnsupported, "not fixed"},
		{"huge input dim", func(m *onnxpb.ModelProto) { m.Graph.Input[0] = valueInfo("x", "N", 1<<40) }, layers.ErrBadFile, "dimension"},
		{"no graph", func(m *onnxpb.ModelProto) { m.Graph = nil }, layers.ErrBadFile, "no graph"},
		{"huge ConstantOfShape", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: "big", Dims: []int64{2}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{1 << 30, 1 << 30}})
			m.Graph.Node = append([]*onnxpb.NodeProto{{Name: "cos", OpType: "ConstantOfShape", Input: []string{"big"}, Output: []string{"zeros"}}}, m.Graph.Node...)
			m.Graph.Node[1].Input[2] = "zeros"
		}, layers.ErrUnsupported, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mlp()
			tc.edit(m)
			_, err := Read(marshal(t, m), "bad.onnx")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %q: want %v containing %q", err, tc.kind, tc.substr)
			}
		})
	}
}

// TestTruncated cuts a real model at every few bytes: every prefix must fail with an
// error (or import, when the cut happens to fall between complete fields), never
// panic.
func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtures, "torch_cnn_op13.onnx"))
	if err != nil {
		t.Skip(err)
	}
	bad := 0
	for n := 0; n < len(data); n += 1 + n/64 {
		if _, err := read(data[:n], "cut.onnx", Options{}); err != nil {
			bad++
			if !errors.Is(err, layers.ErrBadFile) && !errors.Is(err, layers.ErrUnsupported) {
				t.Fatalf("cut at %d: unnamed error %v", n, err)
			}
		}
	}
	if bad == 0 {
		t.Error("no truncation failed")
	}
}

// FuzzRead feeds arbitrary bytes to the importer (without Read's recover).
func FuzzRead(f *testing.F) {
	// Seeds are hand-built models: with the fixture files as seeds the fuzzing
	// engine stalled (0 execs/s) on this machine although no single input was slow;
	// TestMutatedFixtures covers mutations of the fixtures instead.
	f.Add(marshal(f, mlp()))
	f.Add(marshal(f, forkModel()))
	for _, m := range seedModels() {
		f.Add(marshal(f, m))
	}
	// the fuzzer explores logic, not scale: keep every tensor small so each input
	// imports in microseconds
	maxSample, maxFolded = 1<<16, 1<<16
	f.Fuzz(func(t *testing.T, data []byte) {
		tm := time.AfterFunc(3*time.Second, func() { panic("import takes over 3 s") })
		defer tm.Stop()
		m, err := read(data, "fuzz.onnx", Options{})
		if err != nil {
			if !errors.Is(err, layers.ErrBadFile) && !errors.Is(err, layers.ErrUnsupported) &&
				!errors.Is(err, layers.ErrInvalid) && !errors.Is(err, layers.ErrShapeMismatch) && !errors.Is(err, layers.ErrTooLarge) {
				t.Fatalf("error without a named kind: %v", err)
			}
			return
		}
		if m.Graph.FLOPs() <= 1<<22 {
			var xs [][]float32
			for _, in := range m.Graph.Inputs() {
				xs = append(xs, make([]float32, in.Shape.Size()))
			}
			if _, err := m.Graph.ReferenceN(xs, 1); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// seedModels are small hand-built models seeding FuzzRead.
func seedModels() []*onnxpb.ModelProto {
	ints := func(name string, v ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
	}
	w := make([]float32, 2*1*3*3)
	for k := range w {
		w[k] = float32(k%5) - 2
	}
	fc := make([]float32, 8*3)
	for k := range fc {
		fc[k] = float32(k%7) - 3
	}
	conv := &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}},
		Graph: &onnxpb.GraphProto{
			Node: []*onnxpb.NodeProto{
				{Name: "conv", OpType: "Conv", Input: []string{"x", "w"}, Output: []string{"c"}, Attribute: []*onnxpb.AttributeProto{ints("pads", 1, 1, 1, 1)}},
				{Name: "pool", OpType: "MaxPool", Input: []string{"c"}, Output: []string{"p"}, Attribute: []*onnxpb.AttributeProto{ints("kernel_shape", 2, 2), ints("strides", 2, 2)}},
				{Name: "flat", OpType: "Flatten", Input: []string{"p"}, Output: []string{"f"}},
				{Name: "fc", OpType: "MatMul", Input: []string{"f", "fc"}, Output: []string{"m"}},
				{Name: "sm", OpType: "Softmax", Input: []string{"m"}, Output: []string{"y"}},
			},
			Initializer: []*onnxpb.TensorProto{floatInit("w", []int64{2, 1, 3, 3}, w), floatInit("fc", []int64{8, 3}, fc)},
			Input:       []*onnxpb.ValueInfoProto{valueInfo("x", "N", 1, 4, 4)},
			Output:      []*onnxpb.ValueInfoProto{valueInfo("y", "N", 3)},
		},
	}
	i64 := func(name string, v ...int64) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: name, Dims: []int64{int64(len(v))}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: v}
	}
	str := func(name, v string) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_STRING, S: []byte(v)}
	}
	// the breadth families: Split, Tile, Pad reflect, Sqrt, Div of computed tensors, an
	// opset-9 Upsample
	breadth := &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 9}},
		Graph: &onnxpb.GraphProto{
			Node: []*onnxpb.NodeProto{
				{Name: "split", OpType: "Split", Input: []string{"x"}, Output: []string{"a", "b"}, Attribute: []*onnxpb.AttributeProto{ints("split", 1, 1), {Name: "axis", Type: onnxpb.AttributeProto_INT, I: 1}}},
				{Name: "tile", OpType: "Tile", Input: []string{"a", "reps"}, Output: []string{"t"}},
				{Name: "pad", OpType: "Pad", Input: []string{"b"}, Output: []string{"p"}, Attribute: []*onnxpb.AttributeProto{ints("pads", 0, 0, 1, 1, 0, 0, 1, 1), str("mode", "reflect")}},
				{Name: "abs", OpType: "Abs", Input: []string{"p"}, Output: []string{"q"}},
				{Name: "sqrt", OpType: "Sqrt", Input: []string{"q"}, Output: []string{"r"}},
				{Name: "div", OpType: "Div", Input: []string{"t", "r"}, Output: []string{"d"}},
				{Name: "up", OpType: "Upsample", Input: []string{"d", "sc"}, Output: []string{"y"}},
			},
			Initializer: []*onnxpb.TensorProto{i64("reps", 1, 1, 2, 2), floatInit("sc", []int64{4}, []float32{1, 1, 2, 2})},
			Input:       []*onnxpb.ValueInfoProto{valueInfo("x", "N", 2, 2, 2)},
			Output:      []*onnxpb.ValueInfoProto{valueInfo("y", "N", 1, 8, 8)},
		},
	}
	return []*onnxpb.ModelProto{conv, breadth}
}

func TestSeedModels(t *testing.T) {
	for _, m := range seedModels() {
		if _, err := Read(marshal(t, m), "seed.onnx"); err != nil {
			t.Error(err)
		}
	}
}
