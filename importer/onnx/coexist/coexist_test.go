// Package coexist checks that kinfer's generated ONNX types link beside another Go
// ONNX library's. It is its own module so that gonnx (and gorgonia under it) never
// becomes a dependency of kinfer itself.
package coexist

import (
	"os"
	"testing"

	"github.com/advancedclimatesystems/gonnx"
	gonnxpb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
)

const model = "../../../testdata/onnx/keras_mlp_op13.onnx"

// TestBothParse runs in a binary that links both generated packages: protobuf's
// registry would have panicked at init (before any test) on a duplicate
// "onnx.proto3" unless GOLANG_PROTOBUF_REGISTRATION_CONFLICT overrode it, so the
// test also checks that no such override is set.
func TestBothParse(t *testing.T) {
	if v := os.Getenv("GOLANG_PROTOBUF_REGISTRATION_CONFLICT"); v != "" {
		t.Fatalf("GOLANG_PROTOBUF_REGISTRATION_CONFLICT=%q is set; the test must pass without it", v)
	}
	data, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	km, err := onnx.Read(data, model)
	if err != nil {
		t.Fatalf("kinfer: %v", err)
	}
	gp, err := gonnx.ModelProtoFromBytes(data)
	if err != nil {
		t.Fatalf("gonnx: %v", err)
	}
	if got, want := len(gp.GetGraph().GetNode()), 0; got == want {
		t.Fatalf("gonnx parsed %d nodes", got)
	}
	if km.InputName != gp.GetGraph().GetInput()[0].GetName() {
		t.Errorf("input names differ: kinfer %q, gonnx %q", km.InputName, gp.GetGraph().GetInput()[0].GetName())
	}
	if km.OutputName != gp.GetGraph().GetOutput()[0].GetName() {
		t.Errorf("output names differ: kinfer %q, gonnx %q", km.OutputName, gp.GetGraph().GetOutput()[0].GetName())
	}

	// Both are registered, each under its own names.
	for _, name := range []string{"onnx.proto3", "kinfer/onnxpb/onnx.proto3"} {
		if _, err := protoregistry.GlobalFiles.FindFileByPath(name); err != nil {
			t.Errorf("file %q not registered: %v", name, err)
		}
	}
	if got := (&onnxpb.ModelProto{}).ProtoReflect().Descriptor().FullName(); got != "kinfer.onnxpb.ModelProto" {
		t.Errorf("kinfer's ModelProto is %q", got)
	}
	if got := (&gonnxpb.ModelProto{}).ProtoReflect().Descriptor().FullName(); got != "onnx.ModelProto" {
		t.Errorf("gonnx's ModelProto is %q", got)
	}
}
