package onnx_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

const seqFoldDir = "../../testdata/onnx_seqfold"

// TestSeqFold runs the sequence-rewrite and folded-batch fixtures
// (testdata/gen_onnx_seqfold.py) against ONNX Runtime on every kernel path.
func TestSeqFold(t *testing.T) {
	for _, c := range []struct {
		name   string
		folded int // the static batch folded into the data, 0 for none
	}{{"seq_op13", 0}, {"fold_op13", 3}} {
		t.Run(c.name, func(t *testing.T) {
			m, err := onnx.Load(filepath.Join(seqFoldDir, c.name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			x, xs, err := npyf.ReadFile(filepath.Join(seqFoldDir, c.name+".inputs.npy"))
			if err != nil {
				t.Fatal(err)
			}
			want, ws, err := npyf.ReadFile(filepath.Join(seqFoldDir, c.name+".outputs.npy"))
			if err != nil {
				t.Fatal(err)
			}
			batch := xs[0]
			if got := m.Graph.Meta("folded_batch"); c.folded > 0 {
				if got != "3" {
					t.Fatalf("folded_batch = %q, want 3", got)
				}
				batch = 1
				// the one sample holds ONNX's whole tensors (a leading 1 is the unit batch)
				in, out := m.Graph.Input(), m.Graph.Output()
				if len(ws) > 1 && ws[0] == 1 {
					out = append(layers.Shape{1}, out...)
				}
				if !in.Equal(layers.Shape(xs)) || !out.Equal(layers.Shape(ws)) {
					t.Fatalf("shapes %v -> %v, want %v -> %v", in, out, xs, ws)
				}
			} else if got != "" {
				t.Fatalf("folded_batch = %q on a dynamic-batch model", got)
			}
			for _, isa := range asm.Paths() {
				cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String(), MaxBatch: batch})
				if err != nil {
					t.Fatal(err)
				}
				got, err := cm.Run(x, batch)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := zoo.Default.Check(got, want); err != nil {
					t.Errorf("%v: %v", isa, err)
				}
				if allocs := testing.AllocsPerRun(3, func() { _ = cm.RunInto(got, x, batch) }); allocs != 0 {
					t.Errorf("%v: %v allocations per call", isa, allocs)
				}
			}
		})
	}
}

// TestSeqFoldErrors: models ONNX Runtime runs that kinfer refuses, naming the node.
func TestSeqFoldErrors(t *testing.T) {
	for name, want := range map[string]string{
		"err_seqinsert_op13": "(SplitToSequence): unsupported: sequence op SplitToSequence",
		"err_foldconv_op13":  "with the static batch folded into the data: node \"\" (Conv): unsupported: data with the batch axis merged with 2 rows",
		"err_seqpos_op13":    "(SequenceAt): unsupported: input \"p\" is not a constant",
	} {
		_, err := onnx.Load(filepath.Join(seqFoldDir, name+".onnx"))
		if err == nil || !errors.Is(err, layers.ErrUnsupported) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want ErrUnsupported with %q", name, err, want)
		}
	}
}

// TestSeqRewriteBad: malformed sequence nodes fail with a named error, not a panic.
func TestSeqRewriteBad(t *testing.T) {
	x := &onnxpb.ValueInfoProto{Name: "x", Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: int32(onnxpb.TensorProto_FLOAT), Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}, {Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 4}}}}}}}}
	i64 := func(name string, dims []int64, v ...int64) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: name, DataType: int32(onnxpb.TensorProto_INT64), Dims: dims, Int64Data: v}
	}
	for name, c := range map[string]struct {
		nodes []*onnxpb.NodeProto
		inits []*onnxpb.TensorProto
		want  error
	}{
		"no split input": {[]*onnxpb.NodeProto{{OpType: "SplitToSequence", Output: []string{"s"}},
			{OpType: "SequenceAt", Name: "at", Input: []string{"s", "p"}, Output: []string{"y"}}}, []*onnxpb.TensorProto{i64("p", nil, 0)}, layers.ErrBadFile},
		"position out of range": {[]*onnxpb.NodeProto{{OpType: "SplitToSequence", Input: []string{"x", "sp"}, Output: []string{"s"}, Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 1}}},
			{OpType: "SequenceAt", Name: "at", Input: []string{"s", "p"}, Output: []string{"y"}}}, []*onnxpb.TensorProto{i64("p", nil, 2), i64("sp", []int64{2}, 1, 3)}, layers.ErrInvalid},
		"position not a scalar": {[]*onnxpb.NodeProto{{OpType: "SequenceConstruct", Input: []string{"x"}, Output: []string{"s"}},
			{OpType: "SequenceAt", Name: "at", Input: []string{"s", "p"}, Output: []string{"y"}}}, []*onnxpb.TensorProto{i64("p", []int64{2}, 0, 0)}, layers.ErrBadFile},
		"negative split": {[]*onnxpb.NodeProto{{OpType: "SplitToSequence", Input: []string{"x", "sp"}, Output: []string{"s"}},
			{OpType: "SequenceAt", Name: "at", Input: []string{"s", "p"}, Output: []string{"y"}}}, []*onnxpb.TensorProto{i64("p", nil, 0), i64("sp", []int64{2}, -1, 5)}, layers.ErrInvalid},
	} {
		g := &onnxpb.GraphProto{Name: "g", Node: c.nodes, Initializer: c.inits, Input: []*onnxpb.ValueInfoProto{x},
			Output: []*onnxpb.ValueInfoProto{{Name: "y"}}}
		data, err := proto.Marshal(&onnxpb.ModelProto{IrVersion: 8, Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = onnx.Read(data, name)
		t.Log(err)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
}
