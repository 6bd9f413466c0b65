package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinfer/kinfer"
	"github.com/kinfer/kinfer/serve/oippb"
)

func hold(ts *testServer, model string) (started chan struct{}, release func()) {
	started = make(chan struct{}, 64)
	gate := make(chan struct{})
	for _, f := range ts.models {
		for _, e := range f.versions {
			if e.name == model {
				e.b.hook = func() { started <- struct{}{}; <-gate }
			}
		}
	}
	var once sync.Once
	return started, func() { once.Do(func() { close(gate) }) }
}

func TestBatching(t *testing.T) {
	ts := start(t, Config{MaxBatch: 16, Workers: 1, MaxQueueDelay: 20 * time.Millisecond})
	started, release := hold(ts, "mlp")
	defer release()
	// The first request takes the worker; the next 6 queue behind it and run merged.
	x0, y0 := sample(t, 1, 0)
	results := make(chan error, 8)
	go func() {
		results <- tryCheck(ts.url+"/v2/models/mlp/infer", jsonInfer(x0, 1), y0)
	}()
	<-started
	var wg sync.WaitGroup
	for i := 1; i <= 6; i++ {
		x, y := sample(t, 2, float32(i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- tryCheck(ts.url+"/v2/models/mlp/infer", jsonInfer(x, 2), y)
		}()
	}
	waitDepth(t, ts, "mlp", 6)
	release()
	wg.Wait()
	for range 7 {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	_, m := get(t, ts.url+"/metrics")
	// Two runs: the first alone (1 sample), then the six merged (12 samples).
	for _, want := range []string{`kinfer_batch_size_count{model="mlp",version="1"} 2`, `kinfer_batch_size_sum{model="mlp",version="1"} 13`,
		`kinfer_requests_total{model="mlp",protocol="http",version="1"} 7`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func check(resp *http.Response, b []byte, y []float32) error {
	var r inferResp
	if err := json.Unmarshal(b, &r); err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	for i := range y {
		if d := math.Abs(float64(r.Outputs[0].Data[i] - y[i])); d > 1e-5+1e-5*math.Abs(float64(y[i])) {
			return fmt.Errorf("[%d] = %v, want %v", i, r.Outputs[0].Data[i], y[i])
		}
	}
	return nil
}

func waitDepth(t *testing.T, ts *testServer, model string, n int) {
	t.Helper()
	waitDepthV(t, ts, model, "1", n)
}

func waitDepthV(t *testing.T, ts *testServer, model, version string, n int) {
	t.Helper()
	want := fmt.Sprintf(`kinfer_queue_depth{model="%s",version="%s"} %d`, model, version, n)
	for range 500 {
		if _, m := get(t, ts.url+"/metrics"); strings.Contains(string(m), want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("queue never reached %d", n)
}

func TestOverload(t *testing.T) {
	ts := start(t, Config{MaxBatch: 1, Workers: 1, MaxQueue: 2})
	started, release := hold(ts, "mlp")
	defer release()
	x, y := sample(t, 1, 3)
	results := make(chan error, 3)
	send := func() {
		results <- tryCheck(ts.url+"/v2/models/mlp/infer", jsonInfer(x, 1), y)
	}
	go send()
	<-started
	go send()
	go send()
	waitDepth(t, ts, "mlp", 2)
	resp, b := post(t, ts.url+"/v2/models/mlp/infer", jsonInfer(x, 1), nil)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), "queue is full") {
		t.Errorf("over the bound: %d %s", resp.StatusCode, b)
	}
	if _, err := ts.grpc.ModelInfer(context.Background(), grpcReq(x, 1)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC over the bound: %v", err)
	}
	release()
	for range 3 {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
}

func TestTimeout(t *testing.T) {
	ts := start(t, Config{MaxBatch: 1, Workers: 1, Timeout: 100 * time.Millisecond})
	started, release := hold(ts, "mlp")
	defer release()
	x, _ := sample(t, 1, 4)
	go try(ts.url+"/v2/models/mlp/infer", jsonInfer(x, 1)) //nolint:errcheck // only holds the worker
	<-started
	resp, b := post(t, ts.url+"/v2/models/mlp/infer", jsonInfer(x, 1), nil)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("timed out: %d %s", resp.StatusCode, b)
	}
	if _, err := ts.grpc.ModelInfer(context.Background(), grpcReq(x, 1)); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("gRPC timed out: %v", err)
	}
	release()
}

func TestShutdown(t *testing.T) {
	ts := start(t, Config{MaxBatch: 1, Workers: 1})
	started, release := hold(ts, "mlp")
	x, y := sample(t, 1, 5)
	results := make(chan error, 2)
	go func() {
		results <- tryCheck(ts.url+"/v2/models/mlp/infer", jsonInfer(x, 1), y)
	}()
	<-started
	go func() {
		_, err := ts.grpc.ModelInfer(context.Background(), grpcReq(x, 1))
		results <- err
	}()
	waitDepth(t, ts, "mlp", 1)
	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(context.Background()) }()
	for ts.Ready() {
		time.Sleep(time.Millisecond)
	}
	if r, err := ts.grpc.ServerReady(context.Background(), &oippb.ServerReadyRequest{}); err == nil && r.Ready {
		t.Error("gRPC ready while draining")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with requests in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("in-flight request: %v", err)
		}
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(ts.url + "/v2/health/live"); err == nil {
		t.Error("REST still accepts connections after Shutdown")
	}
}

func TestUnready(t *testing.T) {
	ts := start(t, Config{})
	ts.Unready()
	if code, _ := get(t, ts.url+"/v2/health/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("ready after Unready: %d", code)
	}
	if code, _ := get(t, ts.url+"/v2/health/live"); code != 200 {
		t.Errorf("live after Unready: %d", code)
	}
	x, y := sample(t, 1, 8)
	resp, b := post(t, ts.url+"/v2/models/mlp/infer", jsonInfer(x, 1), nil)
	if err := check(resp, b, y); err != nil {
		t.Errorf("inference after Unready: %v", err)
	}
}

func TestInflightLimit(t *testing.T) {
	ts := start(t, Config{MaxBatch: 1, Workers: 1, MaxQueue: 10, MaxInflight: 2})
	started, release := hold(ts, "mlp")
	defer release()
	x, y := sample(t, 1, 7)
	results := make(chan error, 2)
	go func() { results <- tryCheck(ts.url+"/v2/models/mlp/infer", jsonInfer(x, 1), y) }()
	<-started
	go func() { results <- tryCheck(ts.url+"/v2/models/mlp/infer", jsonInfer(x, 1), y) }()
	waitDepth(t, ts, "mlp", 1)
	resp, b := post(t, ts.url+"/v2/models/mlp/infer", jsonInfer(x, 1), nil)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), "in flight") {
		t.Errorf("over the in-flight limit: %d %s", resp.StatusCode, b)
	}
	if _, err := ts.grpc.ModelInfer(context.Background(), grpcReq(x, 1)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC over the in-flight limit: %v", err)
	}
	release()
	for range 2 {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
}

func TestBatchingMultiIO(t *testing.T) {
	ts := start(t, Config{MaxBatch: 16, Workers: 1, MaxQueueDelay: 20 * time.Millisecond})
	m, err := kinfer.Load(twoPath, kinfer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	started, release := hold(ts, "two")
	defer release()
	req := func(seed, n int) (*oippb.ModelInferRequest, [][]float32) {
		r := &oippb.ModelInferRequest{ModelName: "two"}
		var xs [][]float32
		for k, in := range m.Inputs() {
			x := make([]float32, n*in.Shape.Size())
			for i := range x {
				x[i] = float32(math.Cos(float64(seed*1000+k*100+i) * 0.1))
			}
			xs = append(xs, x)
			r.Inputs = append(r.Inputs, &oippb.ModelInferRequest_InferInputTensor{Name: in.Name, Datatype: "FP32", Shape: oipShape(in.Shape, int64(n))})
			r.RawInputContents = append(r.RawInputContents, appendRaw(nil, x))
		}
		ys, err := m.RunMulti(xs, n)
		if err != nil {
			t.Fatal(err)
		}
		return r, ys
	}
	type res struct {
		r    *oippb.ModelInferResponse
		err  error
		want [][]float32
	}
	results := make(chan res, 4)
	for i, n := range []int{1, 2, 3, 1} {
		r, want := req(i, n)
		go func() {
			got, err := ts.grpc.ModelInfer(context.Background(), r)
			results <- res{got, err, want}
		}()
		if i == 0 {
			<-started
		}
	}
	waitDepthV(t, ts, "two", "3", 3)
	release()
	for range 4 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		for k := range r.want {
			near(t, rawFloats(r.r.RawOutputContents[k]), r.want[k])
		}
	}
	_, mt := get(t, ts.url+"/metrics")
	if want := `kinfer_batch_size_sum{model="two",version="3"} 7`; !strings.Contains(string(mt), want) ||
		!strings.Contains(string(mt), `kinfer_batch_size_count{model="two",version="3"} 2`) {
		t.Errorf("metrics lack two runs of 7 samples in all")
	}
}
