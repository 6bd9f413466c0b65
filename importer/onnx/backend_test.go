package onnx_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

const backendDir = "../../testdata/onnx_backend"

// backendBound is the bound of the conformance cases (issue 16): their outputs were
// computed by PyTorch when ONNX recorded them, not by ONNX Runtime on this machine, so
// summation order differs more than against ORT; ONNX's own runner allows rtol 1e-3.
var backendBound = zoo.Bound{Atol: 1e-4, Rtol: 1e-4}

// backendPass lists the onnx wheel's backend cases (testdata/onnx_backend, copied by
// testdata/gen_onnx_backend.py) that must import, compile and match on every kernel
// path. The list only grows: a case that stops passing is a regression.
var backendPass = []string{
	"pytorch-converted/test_AvgPool1d",
	"pytorch-converted/test_AvgPool1d_stride",
	"pytorch-converted/test_AvgPool2d",
	"pytorch-converted/test_AvgPool2d_stride",
	"pytorch-converted/test_AvgPool3d",
	"pytorch-converted/test_AvgPool3d_stride",
	"pytorch-converted/test_AvgPool3d_stride1_pad0_gpu_input",
	"pytorch-converted/test_BatchNorm1d_3d_input_eval",
	"pytorch-converted/test_BatchNorm2d_eval",
	"pytorch-converted/test_BatchNorm2d_momentum_eval",
	"pytorch-converted/test_BatchNorm3d_eval",
	"pytorch-converted/test_BatchNorm3d_momentum_eval",
	"pytorch-converted/test_ConstantPad2d",
	"pytorch-converted/test_Conv1d",
	"pytorch-converted/test_Conv1d_dilated",
	"pytorch-converted/test_Conv1d_groups",
	"pytorch-converted/test_Conv1d_pad1",
	"pytorch-converted/test_Conv1d_pad1size1",
	"pytorch-converted/test_Conv1d_pad2",
	"pytorch-converted/test_Conv1d_pad2size1",
	"pytorch-converted/test_Conv1d_stride",
	"pytorch-converted/test_Conv2d",
	"pytorch-converted/test_Conv2d_depthwise",
	"pytorch-converted/test_Conv2d_depthwise_padded",
	"pytorch-converted/test_Conv2d_depthwise_strided",
	"pytorch-converted/test_Conv2d_depthwise_with_multiplier",
	"pytorch-converted/test_Conv2d_dilated",
	"pytorch-converted/test_Conv2d_groups",
	"pytorch-converted/test_Conv2d_groups_thnn",
	"pytorch-converted/test_Conv2d_no_bias",
	"pytorch-converted/test_Conv2d_padding",
	"pytorch-converted/test_Conv2d_strided",
	"pytorch-converted/test_Conv3d",
	"pytorch-converted/test_Conv3d_dilated",
	"pytorch-converted/test_Conv3d_dilated_strided",
	"pytorch-converted/test_Conv3d_groups",
	"pytorch-converted/test_Conv3d_no_bias",
	"pytorch-converted/test_Conv3d_stride",
	"pytorch-converted/test_Conv3d_stride_padding",
	"pytorch-converted/test_ConvTranspose2d",
	"pytorch-converted/test_ConvTranspose2d_no_bias",
	"pytorch-converted/test_ELU",
	"pytorch-converted/test_GLU",
	"pytorch-converted/test_GLU_dim",
	"pytorch-converted/test_LeakyReLU",
	"pytorch-converted/test_LeakyReLU_with_negval",
	"pytorch-converted/test_Linear",
	"pytorch-converted/test_Linear_no_bias",
	"pytorch-converted/test_LogSoftmax",
	"pytorch-converted/test_MaxPool1d",
	"pytorch-converted/test_MaxPool1d_stride",
	"pytorch-converted/test_MaxPool2d",
	"pytorch-converted/test_MaxPool3d",
	"pytorch-converted/test_MaxPool3d_stride",
	"pytorch-converted/test_MaxPool3d_stride_padding",
	"pytorch-converted/test_PReLU_1d",
	"pytorch-converted/test_PReLU_1d_multiparam",
	"pytorch-converted/test_PReLU_2d",
	"pytorch-converted/test_PReLU_2d_multiparam",
	"pytorch-converted/test_PReLU_3d",
	"pytorch-converted/test_PReLU_3d_multiparam",
	"pytorch-converted/test_PixelShuffle",
	"pytorch-converted/test_PoissonNLLLLoss_no_reduce",
	"pytorch-converted/test_ReLU",
	"pytorch-converted/test_ReflectionPad2d",
	"pytorch-converted/test_ReplicationPad2d",
	"pytorch-converted/test_SELU",
	"pytorch-converted/test_Sigmoid",
	"pytorch-converted/test_Softmax",
	"pytorch-converted/test_Softmin",
	"pytorch-converted/test_Softplus",
	"pytorch-converted/test_Softsign",
	"pytorch-converted/test_Tanh",
	"pytorch-converted/test_ZeroPad2d",
	"pytorch-converted/test_log_softmax_dim3",
	"pytorch-converted/test_log_softmax_lastdim",
	"pytorch-converted/test_softmax_functional_dim3",
	"pytorch-converted/test_softmax_lastdim",
	"pytorch-operator/test_operator_addconstant",
	"pytorch-operator/test_operator_clip",
	"pytorch-operator/test_operator_convtranspose",
	"pytorch-operator/test_operator_exp",
	"pytorch-operator/test_operator_flatten",
	"pytorch-operator/test_operator_index",
	"pytorch-operator/test_operator_maxpool",
	"pytorch-operator/test_operator_pad",
	"pytorch-operator/test_operator_params",
	"pytorch-operator/test_operator_permute2",
	"pytorch-operator/test_operator_reduced_mean",
	"pytorch-operator/test_operator_reduced_mean_keepdim",
	"pytorch-operator/test_operator_reduced_sum",
	"pytorch-operator/test_operator_reduced_sum_keepdim",
	"pytorch-operator/test_operator_repeat",
	"pytorch-operator/test_operator_repeat_dim_overflow",
	"pytorch-operator/test_operator_selu",
	"pytorch-operator/test_operator_sqrt",
	"pytorch-operator/test_operator_symbolic_override",
	"pytorch-operator/test_operator_view",
	"simple/test_sequence_model7",
	"simple/test_shrink",
	"simple/test_sign_model",
	"simple/test_single_relu_model",
}

// backendExpected reads testdata/onnx_backend/UNSUPPORTED.txt: "suite/case: reason"
// per line for every committed case outside backendPass.
func backendExpected(t *testing.T) map[string]string {
	data, err := os.ReadFile(filepath.Join(backendDir, "UNSUPPORTED.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, why, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("UNSUPPORTED.txt: bad line %q", line)
		}
		out[name] = why
	}
	return out
}

// backendLarge are the cases testdata/gen_onnx_backend.py does not copy (over 200 kB).
var backendLarge = []string{
	"pytorch-converted/test_MaxPool1d_stride_padding_dilation",
	"pytorch-converted/test_MaxPool2d_stride_padding_dilation",
	"pytorch-operator/test_operator_conv",
}

// readPB reads a TensorProto file as float32 values (float64 converted), with its dims.
func readPB(path string) ([]float32, []int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	t := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(data, t); err != nil {
		return nil, nil, err
	}
	n := int64(1)
	for _, d := range t.GetDims() {
		n *= d
	}
	out := make([]float32, 0, n)
	raw := t.GetRawData()
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_FLOAT:
		out = append(out, t.GetFloatData()...)
		for i := 0; i+4 <= len(raw); i += 4 {
			out = append(out, math.Float32frombits(uint32(raw[i])|uint32(raw[i+1])<<8|uint32(raw[i+2])<<16|uint32(raw[i+3])<<24))
		}
	case onnxpb.TensorProto_DOUBLE:
		for _, v := range t.GetDoubleData() {
			out = append(out, float32(v))
		}
		for i := 0; i+8 <= len(raw); i += 8 {
			var u uint64
			for k := 7; k >= 0; k-- {
				u = u<<8 | uint64(raw[i+k])
			}
			out = append(out, float32(math.Float64frombits(u)))
		}
	default:
		return nil, nil, fmt.Errorf("%s: element type %d", path, t.GetDataType())
	}
	if int64(len(out)) != n {
		return nil, nil, fmt.Errorf("%s: %d values for dims %v", path, len(out), t.GetDims())
	}
	return out, t.GetDims(), nil
}

// runBackendCase imports, compiles and runs one case on every kernel path; it returns
// "" when the outputs match, else why not.
func runBackendCase(dir string) (string, float64) {
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return "import: " + err.Error(), 0
	}
	data := dir
	if _, err := os.Stat(filepath.Join(dir, "input_0.pb")); err != nil {
		data = filepath.Join(dir, "test_data_set_0") // the wheel's own layout
	}
	x, xd, err := readPB(filepath.Join(data, "input_0.pb"))
	if err != nil {
		return err.Error(), 0
	}
	want, _, err := readPB(filepath.Join(data, "output_0.pb"))
	if err != nil {
		return err.Error(), 0
	}
	if len(xd) == 0 || xd[0] < 1 {
		return fmt.Sprintf("input dims %v have no batch axis", xd), 0
	}
	batch := int(xd[0])
	if m.Graph.Meta("folded_batch") != "" {
		batch = 1 // the static batch is folded into the data: one kinfer sample
	}
	var worst float64
	for _, isa := range asm.Paths() {
		cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String(), MaxBatch: batch})
		if err != nil {
			return fmt.Sprintf("compile %v: %v", isa, err), 0
		}
		got, err := cm.Run(x, batch)
		if err != nil {
			return fmt.Sprintf("run %v: %v", isa, err), 0
		}
		_, w, err := backendBound.Check(got, want)
		if err != nil {
			return fmt.Sprintf("%v: %v", isa, err), w
		}
		worst = max(worst, w)
		if allocs := testing.AllocsPerRun(2, func() { _ = cm.RunInto(got, x, batch) }); allocs != 0 {
			return fmt.Sprintf("%v: %v allocations per call", isa, allocs), w
		}
	}
	return "", worst
}

// TestONNXBackend runs every committed backend case and reports pass / fail with the
// reason; the cases in backendPass must pass.
func TestONNXBackend(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(backendDir, "*", "test_*"))
	if wheel := os.Getenv("KINFER_ONNX_BACKEND_DATA"); wheel != "" {
		// the three cases too large to commit, read from the onnx wheel's own copy
		// (onnx/backend/test/data), e.g. /opt/kvenv/lib/python3.11/site-packages/onnx/backend/test/data
		for _, c := range backendLarge {
			dirs = append(dirs, filepath.Join(wheel, c))
		}
	}
	large := map[string]bool{}
	for _, c := range backendLarge {
		large[c] = true // each passes (measured with the wheel's copy): must pass when run
	}
	if len(dirs) == 0 {
		t.Skip("no cases; run testdata/gen_onnx_backend.py")
	}
	sort.Strings(dirs)
	must := map[string]bool{}
	for _, n := range backendPass {
		must[n] = true
	}
	expected := backendExpected(t)
	var pass, newPass []string
	seen := map[string]bool{}
	for _, d := range dirs {
		name := filepath.Base(filepath.Dir(d)) + "/" + filepath.Base(d)
		seen[name] = true
		why, worst := runBackendCase(d)
		switch {
		case why == "":
			pass = append(pass, name)
			if !must[name] && !large[name] {
				newPass = append(newPass, name)
			}
			t.Logf("pass  %-60s %.3g of bound", name, worst)
		case must[name] || large[name]:
			t.Errorf("FAIL  %s: %s", name, why)
		case expected[name] == "":
			t.Errorf("no    %s: %s (neither in backendPass nor in UNSUPPORTED.txt)", name, why)
		default:
			t.Logf("no    %-60s %s", name, why)
		}
		if why == "" && expected[name] != "" {
			t.Errorf("%s passes: remove it from UNSUPPORTED.txt", name)
		}
	}
	for _, n := range backendPass {
		if !seen[n] {
			t.Errorf("expected-pass case %s is not in %s", n, backendDir)
		}
	}
	t.Logf("%d of %d cases pass (set KINFER_ONNX_BACKEND_DATA to the wheel's onnx/backend/test/data to add the %d cases too large to commit)", len(pass), len(dirs), len(backendLarge))
	if len(newPass) > 0 {
		t.Logf("passing but not in backendPass (add them):\n\t\"%s\",", strings.Join(newPass, "\",\n\t\""))
	}
}
