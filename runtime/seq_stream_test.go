package runtime_test

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

func seqPath(name string) string { return filepath.Join("..", "testdata", "seq", name) }

func loadSeq(t *testing.T, name string) *keras.Model {
	t.Helper()
	m, err := keras.Load(seqPath(name + ".npz"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readNpy(t *testing.T, name string) ([]float32, []int) {
	t.Helper()
	x, s, err := npyf.ReadFile(seqPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return x, s
}

// TestStreamStateful steps Keras stateful=True models chunk by chunk against Keras's own
// stateful predict of the same chunks (each batch row of the Keras model is one
// stream), bound 1e-5 + 1e-5*|want|; the stream is reset between rows.
func TestStreamStateful(t *testing.T) {
	for _, name := range []string{"stateful_lstm", "keras2_stateful_lstm"} {
		m := loadSeq(t, name)
		if m.Graph.Meta("stateful") != "true" {
			t.Errorf("%s: meta stateful = %q", name, m.Graph.Meta("stateful"))
		}
		xs, xsh := readNpy(t, name+".stream_x.npy") // (chunks, batch, steps, F)
		ys, ysh := readNpy(t, name+".stream_y.npy") // (chunks, batch, steps, out)
		chunks, batch, steps := xsh[0], xsh[1], xsh[2]
		xper, yper := xsh[2]*xsh[3], ysh[2]*ysh[3]
		for _, isa := range asm.Paths() {
			cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String()})
			if err != nil {
				t.Fatal(err)
			}
			for _, chunk := range []int{1, steps} {
				s, err := cm.NewStream(chunk)
				if err != nil {
					t.Fatal(err)
				}
				for b := 0; b < batch; b++ {
					s.Reset()
					for c := 0; c < chunks; c++ {
						x := xs[(c*batch+b)*xper : (c*batch+b+1)*xper]
						want := ys[(c*batch+b)*yper : (c*batch+b+1)*yper]
						got := make([]float32, yper)
						for t0 := 0; t0 < steps; t0 += chunk {
							n := min(chunk, steps-t0)
							o := s.OutputLen(n)
							if err := s.Step(got[t0*o/n:(t0+n)*o/n], x[t0*xper/steps:(t0+n)*xper/steps], n); err != nil {
								t.Fatal(err)
							}
						}
						if _, _, err := zoo.Default.Check(got, want); err != nil {
							t.Errorf("%s isa=%v chunk=%d row %d chunk %d: %v", name, isa, chunk, b, c, err)
						}
					}
				}
			}
		}
	}
}

// TestStreamEqualsWhole feeds fixtures to streams in chunks of 1, 3 and all steps, on
// every kernel path: on the generic path the outputs equal Graph.Reference over the
// whole sequence bit for bit (the reference LSTM is a loop of the same Step); on every
// path they agree with the reference and with the compiled whole-sequence run within
// 1e-5 + 1e-5*|want|.
func TestStreamEqualsWhole(t *testing.T) {
	for _, name := range []string{"varlen_lstm", "varlen_embed", "embed_lstm", "mask_zero_lstm", "masking_lstm", "keras2_mask_zero_lstm", "stateful_lstm",
		"varlen_gru", "varlen_embed_gru", "mask_zero_gru_wide"} {
		m := loadSeq(t, name)
		s := m.Samples
		T := m.Graph.Input()[0]
		ref, err := m.Graph.Reference(s.X, s.N)
		if err != nil {
			t.Fatal(err)
		}
		in, out := len(s.X)/s.N, len(ref)/s.N
		for _, isa := range asm.Paths() {
			cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String()})
			if err != nil {
				t.Fatal(err)
			}
			fast, err := cm.Run(s.X, s.N)
			if err != nil {
				t.Fatal(err)
			}
			for _, chunk := range []int{1, 3, T} {
				st, err := cm.NewStream(chunk)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for b := 0; b < s.N; b++ {
					st.Reset()
					got := make([]float32, out)
					timeOut := st.OutputLen(1)*T == out && T > 1
					for t0 := 0; t0 < T; t0 += chunk {
						n := min(chunk, T-t0)
						buf := got // a final output: each chunk overwrites it
						if timeOut {
							buf = got[t0*out/T : (t0+n)*out/T]
						}
						if err := st.Step(buf, s.X[b*in+t0*in/T:b*in+(t0+n)*in/T], n); err != nil {
							t.Fatal(err)
						}
					}
					want := ref[b*out : (b+1)*out]
					if isa == asm.Generic {
						for i, v := range got {
							if math.Float32bits(v) != math.Float32bits(want[i]) {
								t.Fatalf("%s chunk=%d sample %d: stream[%d] = %g, reference %g", name, chunk, b, i, v, want[i])
							}
						}
					}
					if _, _, err := zoo.Default.Check(got, want); err != nil {
						t.Errorf("%s isa=%v chunk=%d sample %d vs reference: %v", name, isa, chunk, b, err)
					}
					if _, _, err := zoo.Default.Check(got, fast[b*out:(b+1)*out]); err != nil {
						t.Errorf("%s isa=%v chunk=%d sample %d vs compiled: %v", name, isa, chunk, b, err)
					}
				}
			}
		}
	}
}

// TestRunSeqLengths runs the variable-length fixtures (Keras Input (None, F) and
// (None,) ids) at three lengths against Keras's predict at each, bound 1e-5 +
// 1e-5*|want|, and checks the error past MaxSeqLen.
func TestRunSeqLengths(t *testing.T) {
	for _, name := range []string{"varlen_lstm", "varlen_embed", "varlen_gru", "varlen_embed_gru", "varlen_bigru", "varlen_embed_bilstm_seq"} {
		m := loadSeq(t, name)
		if m.Graph.Meta("variable_axes") != "0" {
			t.Errorf("%s: variable_axes = %q, want 0", name, m.Graph.Meta("variable_axes"))
		}
		T := m.Graph.Input()[0]
		cm, err := runtime.Compile(m.Graph, runtime.Options{MaxSeqLen: T})
		if err != nil {
			t.Fatal(err)
		}
		for _, L := range []int{3, 6, T} {
			var x, y []float32
			var xs []int
			if L == T {
				x, y, xs = m.Samples.X, m.Samples.Y, m.Samples.XShape
			} else {
				x, xs = readNpy(t, fmt.Sprintf("%s.L%d.x.npy", name, L))
				y, _ = readNpy(t, fmt.Sprintf("%s.L%d.y.npy", name, L))
				if m.Graph.Inputs()[0].DType == layers.Int32 {
					for i, v := range x {
						x[i] = layers.IDBits(int32(v))
					}
				}
			}
			got := make([]float32, xs[0]*cm.SeqOutputLen(L))
			if err := cm.RunSeqInto(got, x, xs[0], L); err != nil {
				t.Fatalf("%s L=%d: %v", name, L, err)
			}
			if _, _, err := zoo.Default.Check(got, y); err != nil {
				t.Errorf("%s L=%d: %v", name, L, err)
			}
			allocs := testing.AllocsPerRun(20, func() { _ = cm.RunSeqInto(got, x, xs[0], L) })
			if allocs != 0 {
				t.Errorf("%s L=%d: %v allocations per RunSeqInto", name, L, allocs)
			}
		}
		long := make([]float32, (T+1)*m.Graph.Input().Size()/T)
		err = cm.RunSeqInto(make([]float32, 1000), long, 1, T+1)
		if !errors.Is(err, layers.ErrTooLong) {
			t.Errorf("%s: length %d: err = %v, want ErrTooLong", name, T+1, err)
		}
	}
}

// TestIDsOutOfRange checks that an id outside the vocabulary is an error naming the
// sample, position, id and vocabulary, before anything runs, on every entry point.
func TestIDsOutOfRange(t *testing.T) {
	m := loadSeq(t, "embed_lstm")
	cm, err := runtime.Compile(m.Graph, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	T := m.Graph.Input()[0]
	ids := make([]int32, 2*T)
	for i := range ids {
		ids[i] = int32(i % 50)
	}
	dst := make([]float32, 2*cm.OutputShape().Size())
	if err := cm.RunIDsInto(dst, ids, 2); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int32{50, -1, math.MaxInt32} {
		ids[T+7] = bad
		want := fmt.Sprintf("sample 1, position 7: id %d is outside the vocabulary of 50", bad)
		for what, err := range map[string]error{
			"RunIDsInto":  cm.RunIDsInto(dst, ids, 2),
			"RunInto":     cm.RunInto(dst, runtime.IDsAsFloat32(ids), 2),
			"RunMulti":    cm.RunMultiInto([][]float32{dst}, [][]float32{runtime.IDsAsFloat32(ids)}, 2),
			"RunSeqInto":  cm.RunSeqIDsInto(dst, ids, 2, T),
			"Reference":   func() error { _, err := m.Graph.Reference(runtime.IDsAsFloat32(ids), 2); return err }(),
			"Stream.Step": func() error { s, _ := cm.NewStream(T); return s.StepIDs(dst, ids[T:], T) }(),
		} {
			if !errors.Is(err, layers.ErrIDOutOfRange) || !strings.Contains(err.Error(), want) && what != "Stream.Step" {
				t.Errorf("%s id %d: err = %v, want ErrIDOutOfRange with %q", what, bad, err, want)
			}
		}
	}
}

// TestSeqConcurrent runs 64 goroutines on one Model (RunIDsInto) and 64 streams at once,
// each output checked against the single-threaded result (run with -race).
func TestSeqConcurrent(t *testing.T) {
	for _, name := range []string{"mask_zero_lstm", "varlen_embed_gru"} {
		seqConcurrent(t, name)
	}
}

func seqConcurrent(t *testing.T, name string) {
	m := loadSeq(t, name)
	s := m.Samples
	cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	want, err := cm.Run(s.X, s.N)
	if err != nil {
		t.Fatal(err)
	}
	T, out := m.Graph.Input()[0], len(want)/s.N
	var wg sync.WaitGroup
	errs := make(chan error, 128)
	for g := range 64 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			got := make([]float32, len(want))
			for range 20 {
				if err := cm.RunInto(got, s.X, s.N); err != nil {
					errs <- err
					return
				}
				if _, _, err := zoo.Default.Check(got, want); err != nil {
					errs <- fmt.Errorf("%s goroutine %d: %v", name, g, err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			st, err := cm.NewStream(1)
			if err != nil {
				errs <- err
				return
			}
			b := g % s.N
			got := make([]float32, out)
			seqOut := st.OutputLen(1)*T == out
			for t0 := range T {
				y := got // a final output: each step overwrites it
				if seqOut {
					y = got[t0*out/T : (t0+1)*out/T]
				}
				if err := st.Step(y, s.X[b*T+t0:b*T+t0+1], 1); err != nil {
					errs <- err
					return
				}
			}
			if _, _, err := zoo.Default.Check(got, want[b*out:(b+1)*out]); err != nil {
				errs <- fmt.Errorf("%s stream %d: %v", name, g, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSeqZeroAllocs checks RunIDsInto and Stream.Step allocate nothing per call.
func TestSeqZeroAllocs(t *testing.T) {
	m := loadSeq(t, "mask_zero_bilstm")
	cm, err := runtime.Compile(m.Graph, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	T := m.Graph.Input()[0]
	ids := make([]int32, 5*T)
	for i := range ids {
		ids[i] = int32(i % 7)
	}
	dst := make([]float32, 5*cm.OutputShape().Size())
	if a := testing.AllocsPerRun(50, func() { _ = cm.RunIDsInto(dst, ids, 5) }); a != 0 {
		t.Errorf("RunIDsInto: %v allocations per call", a)
	}
	m2 := loadSeq(t, "mask_zero_lstm")
	cm2, err := runtime.Compile(m2.Graph, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := cm2.NewStream(1)
	if err != nil {
		t.Fatal(err)
	}
	one := []int32{3}
	out := make([]float32, st.OutputLen(1))
	if a := testing.AllocsPerRun(100, func() { _ = st.StepIDs(out, one, 1) }); a != 0 {
		t.Errorf("Stream.Step: %v allocations per call", a)
	}
}

// TestONNXDynamicSequence imports a torch ONNX Embedding+LSTM classifier whose sequence
// axis is dynamic at a maximum length of 12 and runs it at 12 and 5 steps against ONNX
// Runtime at each length, bound 1e-5 + 1e-5*|want|.
func TestONNXDynamicSequence(t *testing.T) {
	path := seqPath(filepath.Join("onnx", "torch_embed_lstm_dyn_op17.onnx"))
	if _, err := onnx.Load(path); !errors.Is(err, layers.ErrUnsupported) || !strings.Contains(err.Error(), "SeqLen") {
		t.Errorf("Load without SeqLen: err = %v, want ErrUnsupported naming Options.SeqLen", err)
	}
	m, err := onnx.LoadWith(path, onnx.Options{SeqLen: 12})
	if err != nil {
		t.Fatal(err)
	}
	if m.Graph.Meta("variable_axes") != "0" || m.Graph.Inputs()[0].DType != layers.Int32 {
		t.Fatalf("meta variable_axes %q, input %v", m.Graph.Meta("variable_axes"), m.Graph.Inputs()[0])
	}
	for _, isa := range asm.Paths() {
		cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String()})
		if err != nil {
			t.Fatal(err)
		}
		for _, stem := range []string{"torch_embed_lstm_dyn_op17", "torch_embed_lstm_dyn_op17.L5"} {
			ids, xs, err := npyf.ReadIDsFile(seqPath(filepath.Join("onnx", stem+".inputs.npy")))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := readNpy(t, filepath.Join("onnx", stem+".outputs.npy"))
			got := make([]float32, len(want))
			if err := cm.RunSeqIDsInto(got, ids, xs[0], xs[1]); err != nil {
				t.Fatal(err)
			}
			if _, _, err := zoo.Default.Check(got, want); err != nil {
				t.Errorf("%s isa=%v length %d: %v", stem, isa, xs[1], err)
			}
			if xs[1] == 12 { // the whole-length compiled run too
				if err := cm.RunIDsInto(got, ids, xs[0]); err != nil {
					t.Fatal(err)
				}
				if _, _, err := zoo.Default.Check(got, want); err != nil {
					t.Errorf("%s isa=%v RunIDsInto: %v", stem, isa, err)
				}
			}
		}
	}
}

// TestStreamRejects checks that models a stream cannot run exactly are refused by name,
// and that RunSeqInto refuses those that also mix timesteps (the others run on the
// length-masked compiled path).
func TestStreamRejects(t *testing.T) {
	for name, want := range map[string]string{
		"embed_conv1d":        `layer "conv1d/to_2d" (Reshape) mixes timesteps`,
		"mask_zero_bilstm":    `layer "bidirectional" (Bidirectional) is bidirectional`,
		"mask_zero_bigru":     `layer "bidirectional" (Bidirectional) is bidirectional`,
		"masking_rnn":         `layer "simple_rnn_1" (SimpleRNN) runs backwards in time`,
		"td_bigru":            `layer "time_distributed" (TimeDistributed) mixes timesteps`,
		"normalization_adapt": "streaming needs a sequence input",
	} {
		m := loadSeq(t, name)
		cm, err := runtime.Compile(m.Graph, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cm.NewStream(1)
		if !errors.Is(err, layers.ErrUnsupported) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want ErrUnsupported with %q", name, err, want)
		}
		err = cm.RunSeqInto(make([]float32, 100), make([]float32, m.Graph.Input().Size()), 1, m.Graph.Input()[0])
		if runs := strings.Contains(want, "is bidirectional"); runs != (err == nil) {
			// Bidirectional models run RunSeqInto on the compiled kernels (masking_rnn's
			// reversed go_backwards sequence cannot)
			t.Errorf("%s: RunSeqInto err = %v, want an error: %v", name, err, !runs)
		} else if !runs && !errors.Is(err, layers.ErrUnsupported) {
			t.Errorf("%s: RunSeqInto err = %v, want ErrUnsupported", name, err)
		}
	}
}

// TestKerasSeqLen imports the variable-length fixture at a longer maximum length and
// runs it at the samples' length, against Keras.
func TestKerasSeqLen(t *testing.T) {
	m, err := keras.LoadWith(seqPath("varlen_lstm.npz"), keras.Options{SeqLen: 40})
	if err != nil {
		t.Fatal(err)
	}
	if m.Samples != nil || m.Graph.Input()[0] != 40 {
		t.Fatalf("samples %v, input %v", m.Samples != nil, m.Graph.Input())
	}
	ref := loadSeq(t, "varlen_lstm")
	cm, err := runtime.Compile(m.Graph, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := ref.Samples
	got := make([]float32, len(s.Y))
	if err := cm.RunSeqInto(got, s.X, s.N, s.XShape[1]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := zoo.Default.Check(got, s.Y); err != nil {
		t.Error(err)
	}
	if _, err := keras.LoadWith(seqPath("varlen_lstm.npz"), keras.Options{SeqLen: 5}); !errors.Is(err, layers.ErrTooLong) {
		t.Errorf("SeqLen below the samples' length: %v", err)
	}
}
