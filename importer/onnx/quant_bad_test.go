package onnx

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
)

// TestQuantBad mutates every initializer of the int8 fixtures (scales to 0, NaN and
// -1, data truncated, per-axis lengths changed, element types swapped): each load
// must return (an error or a model), never panic, and a non-positive or NaN scale
// must be an error naming a node.
func TestQuantBad(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/quant/*.onnx")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		base := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(data, base); err != nil {
			t.Fatal(err)
		}
		for k := range base.GetGraph().GetInitializer() {
			for mut := 0; mut < 7; mut++ {
				m := proto.Clone(base).(*onnxpb.ModelProto)
				ini := m.GetGraph().GetInitializer()[k]
				isScale := strings.HasSuffix(ini.GetName(), "_scale") && ini.GetDataType() == int32(onnxpb.TensorProto_FLOAT)
				badScale := false
				switch mut {
				case 0, 1, 2:
					if !isScale || len(ini.GetRawData()) < 4 {
						continue
					}
					v := []float32{0, float32(math.NaN()), -1}[mut]
					for i := 0; i+4 <= len(ini.RawData); i += 4 {
						binary.LittleEndian.PutUint32(ini.RawData[i:], math.Float32bits(v))
					}
					badScale = true
				case 3:
					if len(ini.RawData) == 0 {
						continue
					}
					ini.RawData = ini.RawData[:len(ini.RawData)/2]
				case 4:
					if len(ini.Dims) == 0 {
						continue
					}
					ini.Dims[0]++
				case 5:
					ini.DataType = int32(onnxpb.TensorProto_INT16)
				case 6:
					ini.DataType = int32(onnxpb.TensorProto_UINT8)
				}
				b, err := proto.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("%s: initializer %s mutation %d: panic %v", filepath.Base(f), ini.GetName(), mut, r)
						}
					}()
					_, err := Read(b, "mut.onnx")
					if badScale && (err == nil || !strings.Contains(err.Error(), "node ")) {
						t.Errorf("%s: %s scale mutation %d: got %v, want an error naming a node", filepath.Base(f), ini.GetName(), mut, err)
					}
				}()
			}
		}
	}
}
