package runtime_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

// TestONNXSequenceLens runs ONNX GRU, RNN and LSTM nodes whose sequence_lens is a graph
// input (lengths 6, 3, 1, 0, 5 of 6 steps; forward, reverse and bidirectional; Y and
// Y_h; a GRU of 40 units on the GEMM path) through the reference and every kernel path
// against ONNX Runtime (testdata/gen_seq.py onnx), bound 1e-5 + 1e-5*|want|; a length
// past the steps is an error before anything runs; RunMultiInto allocates nothing.
func TestONNXSequenceLens(t *testing.T) {
	for _, name := range []string{"lens_gru_fwd", "lens_gru_bidi_seq", "lens_gru_wide_seq", "lens_rnn_rev_seq", "lens_lstm_bidi"} {
		p := func(ext string) string { return seqPath(filepath.Join("onnx", name+ext)) }
		m, err := onnx.Load(p(".onnx"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		x, xs := readNpy(t, filepath.Join("onnx", name+".x.npy"))
		lens, _, err := npyf.ReadIDsFile(p(".lens.npy"))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := readNpy(t, filepath.Join("onnx", name+".y.npy"))
		n := xs[0]
		ins := [][]float32{x, runtime.IDsAsFloat32(lens)}
		ref, err := m.Graph.ReferenceN(ins, n)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := zoo.Default.Check(ref[0], want); err != nil {
			t.Errorf("%s reference: %v", name, err)
		}
		for isa, cm := range checkEveryISA(t, name, m.Graph, ins, n, want) {
			outs := [][]float32{make([]float32, len(want))}
			bad := append([]int32(nil), lens...)
			bad[2] = int32(xs[1] + 1)
			err = cm.RunMultiInto(outs, [][]float32{x, runtime.IDsAsFloat32(bad)}, n)
			if !errors.Is(err, layers.ErrIDOutOfRange) {
				t.Errorf("%s isa=%v: length %d of %d steps: err = %v, want ErrIDOutOfRange", name, isa, bad[2], xs[1], err)
			}
		}
	}
}

// TestRunSeqLengthMaskedConcurrent runs a Bidirectional variable-length model at two
// shorter lengths from 32 goroutines at once (the length-masked copy and its pooled
// buffers), each output checked against Keras's (run with -race).
func TestRunSeqLengthMaskedConcurrent(t *testing.T) {
	m := loadSeq(t, "varlen_bigru")
	cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	type tc struct{ x, y []float32 }
	var cases []tc
	for _, L := range []int{3, 6} {
		x, _ := readNpy(t, "varlen_bigru.L"+string(rune('0'+L))+".x.npy")
		y, _ := readNpy(t, "varlen_bigru.L"+string(rune('0'+L))+".y.npy")
		cases = append(cases, tc{x, y})
	}
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, L := cases[g%2], []int{3, 6}[g%2]
			got := make([]float32, len(c.y))
			for range 10 {
				if err := cm.RunSeqInto(got, c.x, len(c.y)/2, L); err != nil {
					errs <- err
					return
				}
				if _, _, err := zoo.Default.Check(got, c.y); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestMutatedSequenceLens imports, compiles and runs byte-level mutations of the ONNX
// sequence_lens fixtures: each imports and runs, or fails with a named error, never a
// panic.
func TestMutatedSequenceLens(t *testing.T) {
	files, _ := filepath.Glob(seqPath(filepath.Join("onnx", "lens_*.onnx")))
	if len(files) == 0 {
		t.Fatal("no lens fixtures")
	}
	r := rand.New(rand.NewPCG(7, 7))
	iters := 1500
	if testing.Short() {
		iters = 150
	}
	ran := 0
	for it := range iters {
		data, err := os.ReadFile(files[it%len(files)])
		if err != nil {
			t.Fatal(err)
		}
		for range 1 + r.IntN(3) {
			data[r.IntN(len(data))] = byte(r.IntN(256))
		}
		m, err := onnx.ReadWith(data, "mutated.onnx", onnx.Options{MaxBatch: 2, MaxTensorBytes: 1 << 20})
		if err != nil {
			if !isNamed(err) {
				t.Fatalf("iteration %d: import: error wraps no named error: %v", it, err)
			}
			continue
		}
		cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: 2, MaxArenaBytes: 16 << 20})
		if err != nil {
			if !isNamed(err) {
				t.Fatalf("iteration %d: compile: %v", it, err)
			}
			continue
		}
		var xs [][]float32
		for k, in := range cm.Inputs() {
			x := make([]float32, 2*in.Shape.Size())
			if in.DType == layers.Int32 {
				for i := range x {
					x[i] = layers.IDBits(int32(r.IntN(max(1, cm.Graph().Vocabulary(k)))))
				}
			}
			xs = append(xs, x)
		}
		if _, err := cm.RunMulti(xs, 2); err != nil && !isNamed(err) {
			t.Fatalf("iteration %d: run: %v", it, err)
		}
		ran++
	}
	t.Logf("%d of %d mutations imported and ran", ran, iters)
}

// TestONNXPackedSequence runs a torch Embedding -> pack_padded_sequence -> GRU -> Linear
// export (torch casts the lengths before the GRU's sequence_lens; testdata/gen_onnx.py)
// against torch's own outputs on the reference and every kernel path, bound 1e-5 +
// 1e-5*|want|, with both inputs integers and no allocation per call.
func TestONNXPackedSequence(t *testing.T) {
	const name = "torch_packed_gru_op13"
	p := func(ext string) string { return seqPath(filepath.Join("onnx", name+ext)) }
	m, err := onnx.Load(p(".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	ids, shape, err := npyf.ReadIDsFile(p(".ids.npy"))
	if err != nil {
		t.Fatal(err)
	}
	lens, _, err := npyf.ReadIDsFile(p(".lens.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := readNpy(t, filepath.Join("onnx", name+".y.npy"))
	n := shape[0]
	ins := [][]float32{runtime.IDsAsFloat32(ids), runtime.IDsAsFloat32(lens)}
	ref, err := m.Graph.ReferenceN(ins, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := zoo.Default.Check(ref[0], want); err != nil {
		t.Errorf("reference: %v", err)
	}
	checkEveryISA(t, name, m.Graph, ins, n, want)
}

// checkEveryISA compiles g on every kernel path and checks RunMultiInto of ins (a batch
// of n) against want (first output, zoo bound) with no allocation per call; it returns
// the compiled models by path for further checks.
func checkEveryISA(t *testing.T, name string, g *layers.Graph, ins [][]float32, n int, want []float32) map[asm.ISA]*runtime.Model {
	t.Helper()
	ms := map[asm.ISA]*runtime.Model{}
	for _, isa := range asm.Paths() {
		cm, err := runtime.Compile(g, runtime.Options{ISA: isa.String(), MaxBatch: n})
		if err != nil {
			t.Fatal(err)
		}
		outs := [][]float32{make([]float32, len(want))}
		if err := cm.RunMultiInto(outs, ins, n); err != nil {
			t.Fatal(err)
		}
		if _, _, err := zoo.Default.Check(outs[0], want); err != nil {
			t.Errorf("%s isa=%v: %v", name, isa, err)
		}
		if a := testing.AllocsPerRun(10, func() { _ = cm.RunMultiInto(outs, ins, n) }); a != 0 {
			t.Errorf("%s isa=%v: %v allocations per call", name, isa, a)
		}
		ms[isa] = cm
	}
	return ms
}
