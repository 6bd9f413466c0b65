package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/kinfer/kinfer"
	"github.com/kinfer/kinfer/serve/oippb"
)

const (
	mlpPath = "../testdata/onnx/keras_mlp_op13.onnx" // keras_tensor (10) -> Identity:0 (4)
	twoPath = "../testdata/onnx/torch_two_io_op17.onnx"
)

// testServer is a running Server with its REST base URL and a gRPC client.
type testServer struct {
	*Server
	url  string
	grpc oippb.GRPCInferenceServiceClient
	done chan error
}

func start(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.Models == nil {
		cfg.Models = []ModelSpec{{Name: "mlp", Version: "1", Path: mlpPath}, {Name: "two", Version: "3", Path: twoPath}}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, url: "http://" + hl.Addr().String(), done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(hl, gl) }()
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ts.grpc = oippb.NewGRPCInferenceServiceClient(conn)
	t.Cleanup(func() {
		conn.Close()
		s.Shutdown(context.Background()) //nolint:errcheck // a test may have shut it down
		if err := <-ts.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// sample is n samples of the mlp's input and the model's own output for them.
func sample(t *testing.T, n int, seed float32) (x, y []float32) {
	t.Helper()
	m, err := kinfer.Load(mlpPath, kinfer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x = make([]float32, n*10)
	for i := range x {
		x[i] = float32(math.Sin(float64(seed) + float64(i)*0.37))
	}
	if y, err = m.Run(x, n); err != nil {
		t.Fatal(err)
	}
	return x, y
}

func near(t *testing.T, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i := range want {
		// Merged batches run the same kernels on more rows: equal to a lone run
		// within float32 rounding.
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5+1e-5*math.Abs(float64(want[i])) {
			t.Fatalf("[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func post(t *testing.T, url string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// try is post for other goroutines: its error goes into the result.
func try(url string, body []byte) error {
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpErr{resp.StatusCode, b}
}

// httpErr carries a response through try.
type httpErr struct {
	code int
	body []byte
}

func (e httpErr) Error() string { return fmt.Sprintf("%d %s", e.code, e.body) }

// tryCheck is try then check.
func tryCheck(url string, body []byte, y []float32) error {
	err := try(url, body)
	he, ok := err.(httpErr)
	if !ok {
		return err
	}
	return check(&http.Response{StatusCode: he.code}, he.body, y)
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func jsonInfer(x []float32, n int) []byte {
	b, _ := json.Marshal(map[string]any{"id": "q", "inputs": []map[string]any{{"name": "keras_tensor", "datatype": "FP32", "shape": []int{n, 10}, "data": x}}})
	return b
}

type inferResp struct {
	ID      string `json:"id"`
	Outputs []struct {
		Name       string         `json:"name"`
		Datatype   string         `json:"datatype"`
		Shape      []int64        `json:"shape"`
		Data       []float32      `json:"data"`
		Parameters map[string]any `json:"parameters"`
	} `json:"outputs"`
	Error string `json:"error"`
}

func TestREST(t *testing.T) {
	ts := start(t, Config{})
	for _, u := range []string{"/v2/health/live", "/v2/health/ready", "/v2/models/mlp/ready", "/v2/models/mlp/versions/1/ready"} {
		if code, _ := get(t, ts.url+u); code != 200 {
			t.Errorf("GET %s: %d", u, code)
		}
	}
	code, b := get(t, ts.url+"/v2/models/two")
	var meta modelMeta
	if err := json.Unmarshal(b, &meta); code != 200 || err != nil {
		t.Fatalf("metadata: %d %s", code, b)
	}
	if len(meta.Inputs) != 2 || len(meta.Outputs) != 2 || meta.Versions[0] != "3" || meta.Inputs[0].Shape[0] != -1 || meta.Platform != "kinfer_onnx" {
		t.Errorf("metadata %+v", meta)
	}
	code, b = get(t, ts.url+"/v2")
	if code != 200 || !strings.Contains(string(b), `"binary_tensor_data"`) {
		t.Errorf("server metadata: %d %s", code, b)
	}

	// JSON in, JSON out; nested data is row-major like flat.
	x, y := sample(t, 3, 1)
	resp, b := post(t, ts.url+"/v2/models/mlp/infer", jsonInfer(x, 3), nil)
	var r inferResp
	if err := json.Unmarshal(b, &r); resp.StatusCode != 200 || err != nil {
		t.Fatalf("infer: %d %s", resp.StatusCode, b)
	}
	if r.ID != "q" || len(r.Outputs) != 1 || r.Outputs[0].Name != "Identity:0" || fmt.Sprint(r.Outputs[0].Shape) != "[3 4]" {
		t.Fatalf("response %s", b)
	}
	near(t, r.Outputs[0].Data, y)
	nested, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "keras_tensor", "datatype": "FP64", "shape": []int{3, 10},
		"data": [][]float32{x[:10], x[10:20], x[20:]}}}})
	resp, b = post(t, ts.url+"/v2/models/mlp/versions/1/infer", nested, nil)
	if err := check(resp, b, y); err != nil {
		t.Fatalf("nested: %v", err)
	}

	// Binary tensor data extension both ways.
	head := fmt.Sprintf(`{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[3,10],"parameters":{"binary_data_size":%d}}],"parameters":{"binary_data_output":true}}`, 4*len(x))
	body := appendRaw([]byte(head), x)
	resp, b = post(t, ts.url+"/v2/models/mlp/infer", body, map[string]string{headerLen: strconv.Itoa(len(head))})
	if resp.StatusCode != 200 {
		t.Fatalf("binary: %d %s", resp.StatusCode, b)
	}
	hl, err := strconv.Atoi(resp.Header.Get(headerLen))
	if err != nil || hl > len(b) {
		t.Fatalf("binary response header length %q of %d bytes", resp.Header.Get(headerLen), len(b))
	}
	if err := json.Unmarshal(b[:hl], &r); err != nil || r.Outputs[0].Parameters["binary_data_size"] != float64(4*len(y)) {
		t.Fatalf("binary response header %s", b[:hl])
	}
	got := make([]float32, len(y))
	for i := range got {
		got[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[hl+4*i:]))
	}
	near(t, got, y)
}

func TestRESTErrors(t *testing.T) {
	ts := start(t, Config{MaxRequestBytes: 4096})
	x, _ := sample(t, 1, 0)
	const binHead = `{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[1,10],"parameters":{"binary_data_size":8}}]}`
	cases := []struct {
		name, url, body string
		hdr             map[string]string
		code            int
		msg             string
	}{
		{"unknown model", "/v2/models/nope/infer", "{}", nil, 404, "unknown model"},
		{"unknown version", "/v2/models/mlp/versions/9/infer", "{}", nil, 404, "unknown version"},
		{"bad json", "/v2/models/mlp/infer", "{", nil, 400, "JSON"},
		{"shape", "/v2/models/mlp/infer", `{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[1,9],"data":[1,2,3,4,5,6,7,8,9]}]}`, nil, 400, "shape"},
		{"datatype", "/v2/models/mlp/infer", `{"inputs":[{"name":"keras_tensor","datatype":"BYTES","shape":[1,10],"data":[]}]}`, nil, 400, "datatype"},
		{"count", "/v2/models/mlp/infer", `{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[1,10],"data":[1,2]}]}`, nil, 400, "elements"},
		{"too many", "/v2/models/mlp/infer", `{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[1,10],"data":[1,2,3,4,5,6,7,8,9,10,11]}]}`, nil, 400, "more than"},
		{"not a number", "/v2/models/mlp/infer", `{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[1,10],"data":[1,2,3,4,5,6,7,8,9,"a"]}]}`, nil, 400, "not a number"},
		{"inputs", "/v2/models/two/infer", string(jsonInfer(x, 1)), nil, 400, "2 input"},
		{"batch", "/v2/models/mlp/infer", `{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[0,10],"data":[]}]}`, nil, 400, "batch"},
		{"huge batch", "/v2/models/mlp/infer", `{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[4611686018427387904,10],"data":[]}]}`, nil, 413, "limit"},
		{"body", "/v2/models/mlp/infer", `{"inputs":[` + strings.Repeat(" ", 5000) + `]}`, nil, 413, "limit"},
		{"header length", "/v2/models/mlp/infer", "{}", map[string]string{headerLen: "99"}, 400, headerLen},
		{"binary size", "/v2/models/mlp/infer", binHead + "12345678", map[string]string{headerLen: strconv.Itoa(len(binHead))}, 400, "bytes of data"},
		{"output name", "/v2/models/mlp/infer", strings.Replace(string(jsonInfer(x, 1)), `"id"`, `"outputs":[{"name":"zz"}],"id"`, 1), nil, 400, "no output"},
	}
	for _, c := range cases {
		resp, b := post(t, ts.url+c.url, []byte(c.body), c.hdr)
		var r inferResp
		json.Unmarshal(b, &r) //nolint:errcheck // checked through r.Error
		if resp.StatusCode != c.code || !strings.Contains(r.Error, c.msg) {
			t.Errorf("%s: %d %s; want %d and an error with %q", c.name, resp.StatusCode, b, c.code, c.msg)
		}
	}
	if code, _ := get(t, ts.url+"/v2/models/nope"); code != 404 {
		t.Errorf("metadata of an unknown model: %d", code)
	}
	// Errors are counted by kind.
	_, m := get(t, ts.url+"/metrics")
	for _, want := range []string{`kinfer_request_errors_total{kind="bad_request",model="mlp",protocol="http",version="1"}`,
		`kinfer_request_errors_total{kind="too_large",model="mlp",protocol="http",version="1"} 2`,
		`kinfer_request_errors_total{kind="not_found",model="",protocol="http",version=""} 2`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func grpcReq(x []float32, n int) *oippb.ModelInferRequest {
	return &oippb.ModelInferRequest{ModelName: "mlp", Id: "g",
		Inputs:           []*oippb.ModelInferRequest_InferInputTensor{{Name: "keras_tensor", Datatype: "FP32", Shape: []int64{int64(n), 10}}},
		RawInputContents: [][]byte{appendRaw(nil, x)}}
}

func rawFloats(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func TestGRPC(t *testing.T) {
	ts := start(t, Config{MaxRequestBytes: 4096})
	ctx := context.Background()
	if r, err := ts.grpc.ServerReady(ctx, &oippb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Fatalf("ServerReady: %v %v", r, err)
	}
	if r, err := ts.grpc.ModelReady(ctx, &oippb.ModelReadyRequest{Name: "two", Version: "3"}); err != nil || !r.Ready {
		t.Fatalf("ModelReady: %v %v", r, err)
	}
	md, err := ts.grpc.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "mlp"})
	if err != nil || md.Inputs[0].Name != "keras_tensor" || md.Outputs[0].Datatype != "FP32" {
		t.Fatalf("ModelMetadata: %v %v", md, err)
	}
	x, y := sample(t, 2, 2)
	r, err := ts.grpc.ModelInfer(ctx, grpcReq(x, 2))
	if err != nil {
		t.Fatal(err)
	}
	if r.Id != "g" || fmt.Sprint(r.Outputs[0].Shape) != "[2 4]" {
		t.Fatalf("response %v", r)
	}
	near(t, rawFloats(r.RawOutputContents[0]), y)
	// Typed contents.
	req := grpcReq(x, 2)
	req.RawInputContents = nil
	req.Inputs[0].Contents = &oippb.InferTensorContents{Fp32Contents: x}
	if r, err = ts.grpc.ModelInfer(ctx, req); err != nil {
		t.Fatal(err)
	}
	near(t, rawFloats(r.RawOutputContents[0]), y)

	bad := func(name string, mut func(*oippb.ModelInferRequest), want codes.Code) {
		req := grpcReq(x, 2)
		mut(req)
		_, err := ts.grpc.ModelInfer(ctx, req)
		if status.Code(err) != want {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	bad("unknown model", func(r *oippb.ModelInferRequest) { r.ModelName = "nope" }, codes.NotFound)
	bad("shape", func(r *oippb.ModelInferRequest) { r.Inputs[0].Shape = []int64{2, 5} }, codes.InvalidArgument)
	bad("raw size", func(r *oippb.ModelInferRequest) { r.RawInputContents[0] = r.RawInputContents[0][4:] }, codes.InvalidArgument)
	bad("too large", func(r *oippb.ModelInferRequest) { r.RawInputContents[0] = make([]byte, 5000) }, codes.ResourceExhausted)
	bad("huge batch", func(r *oippb.ModelInferRequest) { r.Inputs[0].Shape[0] = 1 << 40 }, codes.ResourceExhausted)
}

// hold makes every model run of ts wait until the returned release is called, and
// sends on started as each run begins.
// TestBatching: requests queued together run as one batch, each getting its own
// samples' outputs.
// waitDepth waits until model's queue (version 1) holds n requests.
// TestOverload: past the queue bound requests are refused at once with 429 and
// RESOURCE_EXHAUSTED; those admitted are all answered.
// TestTimeout: a request whose deadline passes while queued gets 504 /
// DEADLINE_EXCEEDED, and the worker skips it.
// TestShutdown: Shutdown turns readiness off and refuses new work, yet answers the
// requests in flight before returning.
// TestUnready: readiness turns off while inference goes on.
func TestSpecsAndRepository(t *testing.T) {
	for arg, want := range map[string]ModelSpec{
		"a/b/net.onnx":   {"net", "1", "a/b/net.onnx"},
		"m=x.npz":        {"m", "1", "x.npz"},
		"m:7=dir/x.onnx": {"m", "7", "dir/x.onnx"},
	} {
		if got, err := ParseSpec(arg); err != nil || got != want {
			t.Errorf("ParseSpec(%q) = %+v, %v", arg, got, err)
		}
	}
	for _, bad := range []string{"a b=x.onnx", "=x.onnx", "m:=x", "m=", "../x=y.onnx"} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) took it", bad)
		}
	}
	dir := t.TempDir()
	abs, _ := filepath.Abs(mlpPath)
	for _, p := range []string{"mlp/2", "mlp/10", "other"} {
		os.MkdirAll(filepath.Join(dir, p), 0o755) //nolint:errcheck // checked by the symlinks
	}
	for _, p := range []string{"mlp/2/model.onnx", "mlp/10/anything.onnx", "flat.onnx"} {
		if err := os.Symlink(abs, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "mlp", "config.pbtxt"), nil, 0o644) //nolint:errcheck // ignored by the scan
	specs, err := ScanRepository(dir)
	if err == nil {
		t.Fatalf("a model folder without versions was taken: %v", specs)
	}
	os.Remove(filepath.Join(dir, "other")) //nolint:errcheck // checked by the scan
	if specs, err = ScanRepository(dir); err != nil || len(specs) != 3 {
		t.Fatalf("ScanRepository: %v %v", specs, err)
	}
	specs = append(specs, ModelSpec{Name: "folder", Version: "1", Path: filepath.Join(dir, "mlp", "10")})
	ts := start(t, Config{Models: specs})
	code, b := get(t, ts.url+"/v2/models/mlp")
	if code != 200 || !strings.Contains(string(b), `"versions":["2","10"]`) {
		t.Errorf("versions: %d %s", code, b)
	}
	x, y := sample(t, 1, 6)
	for _, m := range []string{"flat", "folder"} {
		resp, b := post(t, ts.url+"/v2/models/"+m+"/infer", jsonInfer(x, 1), nil)
		if err := check(resp, b, y); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.onnx")
	os.WriteFile(bad, []byte("not a model"), 0o644) //nolint:errcheck // checked by New
	for _, c := range []Config{
		{Models: []ModelSpec{{Name: "b", Version: "1", Path: bad}}},
		{Models: []ModelSpec{{Name: "b", Version: "1", Path: filepath.Join(dir, "missing.onnx")}}},
		{Models: []ModelSpec{{Name: "m", Version: "1", Path: mlpPath}, {Name: "m", Version: "1", Path: mlpPath}}},
		{},
	} {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) took it", c.Models)
		} else if len(c.Models) > 0 && !strings.Contains(err.Error(), c.Models[0].Name) {
			t.Errorf("error %q does not name the model", err)
		}
	}
}

// TestInflightLimit: past MaxInflight a request is refused before its body is read.
// TestBatchingMultiIO: merged requests to a two-input, two-output model each get
// their own samples' outputs (per-input offsets in the worker's buffers).
