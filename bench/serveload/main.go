// Command serveload is a bounded loopback load test of `kinfer serve`: for each
// batching setting it starts the server, sends a fixed number of REST inference
// requests (binary tensors) from a fixed number of concurrent clients, and reports
// throughput, latency percentiles, refusals (429/503), other errors, lost responses
// and the server's peak resident memory. Results go to stdout as a Markdown table.
//
//	go build -o /tmp/kinfer ./cmd/kinfer
//	go run ./bench/serveload --kinfer /tmp/kinfer --model testdata/keras/mnist_cnn.npz
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/kinfer/kinfer/serve/oippb"
)

type setting struct {
	name  string
	flags []string
}

var settings = []setting{
	{"no batching (max-batch 1)", []string{"--max-batch", "1"}},
	{"max-batch 8, no delay", []string{"--max-batch", "8"}},
	{"max-batch 32, no delay", []string{"--max-batch", "32"}},
	{"max-batch 32, delay 2ms", []string{"--max-batch", "32", "--max-queue-delay", "2ms"}},
	{"overload: max-batch 8, max-queue 8, 1 worker", []string{"--max-batch", "8", "--max-queue", "8", "--workers", "1"}},
}

func main() {
	kinfer := flag.String("kinfer", "", "kinfer binary")
	model := flag.String("model", "testdata/keras/mnist_cnn.npz", "model served")
	clients := flag.Int("clients", 64, "concurrent clients")
	requests := flag.Int("requests", 6400, "requests per setting")
	repeat := flag.Int("repeat", 1, "rounds over the settings, interleaved; the table gives medians (counts are summed)")
	flag.BoolVar(&useGRPC, "grpc", false, "send gRPC ModelInfer requests (raw contents) instead of REST")
	flag.Parse()
	if *kinfer == "" {
		fmt.Fprintln(os.Stderr, "serveload: --kinfer is required")
		os.Exit(2)
	}
	proto := "REST with binary tensors"
	if useGRPC {
		proto = "gRPC with raw contents, one connection"
	}
	fmt.Printf("model %s, %d clients, %d requests per setting and round, %s, one sample per request, %d interleaved round(s): medians of req/s, p50, p99 and peak RSS; counts summed\n\n",
		*model, *clients, *requests, proto, *repeat)
	all := make([][]result, len(settings))
	for range *repeat {
		for i, s := range settings {
			r, err := run(*kinfer, *model, s, *clients, *requests)
			if err != nil {
				fmt.Fprintf(os.Stderr, "serveload: %s: %v\n", s.name, err)
				os.Exit(1)
			}
			all[i] = append(all[i], r)
		}
	}
	fmt.Println("| setting | req/s | p50 ms | p99 ms | ok | 429/503 | other errors | lost | server peak RSS MiB |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for i, s := range settings {
		rs := all[i]
		var ok, refused, other, lost int
		for _, r := range rs {
			ok, refused, other, lost = ok+r.ok, refused+r.refused, other+r.other, lost+r.lost
		}
		med := func(f func(result) float64) float64 {
			v := make([]float64, len(rs))
			for j, r := range rs {
				v[j] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		fmt.Printf("| %s | %.0f | %.2f | %.2f | %d | %d | %d | %d | %.1f |\n", s.name,
			med(func(r result) float64 { return r.rps }), med(func(r result) float64 { return r.p50 }),
			med(func(r result) float64 { return r.p99 }), ok, refused, other, lost, med(func(r result) float64 { return r.rssMiB }))
	}
}

var useGRPC bool

type result struct {
	rps, p50, p99, rssMiB    float64
	ok, refused, other, lost int
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func run(kinfer, model string, s setting, clients, requests int) (result, error) {
	addr, err := freePort()
	if err != nil {
		return result{}, err
	}
	gaddr, err := freePort()
	if err != nil {
		return result{}, err
	}
	args := append([]string{"serve", "--http", addr, "--grpc", gaddr, "--log-level", "warn", "m=" + model}, s.flags...)
	cmd := exec.Command(kinfer, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
		cmd.Wait()                          //nolint:errcheck // reported by the run
	}()
	base := "http://" + addr
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute}
	var meta struct {
		Inputs []struct {
			Name     string
			Datatype string
			Shape    []int64
		}
	}
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(base + "/v2/models/m")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&meta)
			resp.Body.Close()
			if err == nil && resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > time.Minute {
			return result{}, fmt.Errorf("server not ready: %v", err)
		}
	}
	in := meta.Inputs[0]
	shape := append([]int64{1}, in.Shape[1:]...)
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	raw := make([]byte, 0, 4*n)
	for i := range n {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(math.Sin(float64(i)))))
	}
	sh, _ := json.Marshal(shape)
	head := fmt.Sprintf(`{"inputs":[{"name":%q,"datatype":"FP32","shape":%s,"parameters":{"binary_data_size":%d}}],"parameters":{"binary_data_output":true}}`, in.Name, sh, len(raw))
	body := append([]byte(head), raw...)
	send := func() (int, error) {
		if useGRPC {
			return grpcSend(gaddr, shape, in.Name, raw)
		}
		req, _ := http.NewRequest("POST", base+"/v2/models/m/infer", bytes.NewReader(body))
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(head)))
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	for range 200 { // warm up: connections, the model's states
		if code, err := send(); err != nil || code != 200 {
			return result{}, fmt.Errorf("warm-up: %d %v", code, err)
		}
	}

	var mu sync.Mutex
	var lat []float64
	var r result
	next := make(chan struct{}, requests)
	for range requests {
		next <- struct{}{}
	}
	close(next)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				t := time.Now()
				code, err := send()
				d := time.Since(t).Seconds() * 1e3
				mu.Lock()
				switch {
				case err != nil:
					r.lost++
				case code == 200:
					r.ok++
					lat = append(lat, d)
				case code == 429 || code == 503:
					r.refused++
				default:
					r.other++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	r.rps = float64(r.ok) / el
	slices.Sort(lat)
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	r.rssMiB = peakRSS(cmd.Process.Pid)
	return r, nil
}

var (
	grpcClient oippb.GRPCInferenceServiceClient
	grpcAddr   string
)

// grpcSend sends one ModelInfer and maps its status to the HTTP code OIP pairs it with.
func grpcSend(addr string, shape []int64, name string, raw []byte) (int, error) {
	if grpcAddr != addr { // a new server: a new connection (set up by the sequential warm-up)
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return 0, err
		}
		grpcClient, grpcAddr = oippb.NewGRPCInferenceServiceClient(conn), addr
	}
	_, err := grpcClient.ModelInfer(context.Background(), &oippb.ModelInferRequest{ModelName: "m",
		Inputs:           []*oippb.ModelInferRequest_InferInputTensor{{Name: name, Datatype: "FP32", Shape: shape}},
		RawInputContents: [][]byte{raw}})
	switch status.Code(err) {
	case codes.OK:
		return 200, nil
	case codes.ResourceExhausted:
		return 429, nil
	case codes.Unavailable:
		return 503, nil
	case codes.InvalidArgument:
		return 400, nil
	}
	return 0, err
}

// peakRSS reads a process's peak resident set (VmHWM) in MiB; 0 where /proc has none.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
