package runtime_test

import (
	"path/filepath"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/runtime"
)

// BenchmarkRecurrentZoo times the GRU, SimpleRNN and text fixtures at batch 1 on one
// thread, on the plain-Go path (generic) and the compiled one, with the stored first
// sample (issue 9's "10x the plain-Go path": compare the two rows of a fixture; run
// them interleaved, e.g. -count 6, and take medians).
//
//	go test -run XXX -bench BenchmarkRecurrentZoo -benchtime 200ms -count 6 ./runtime/
func BenchmarkRecurrentZoo(b *testing.B) {
	paths := []string{}
	for _, n := range []string{"bidirectional_gru", "bidirectional_gru_h5", "gru_activations", "gru_backwards_seq",
		"gru_forecaster", "gru_reset_before", "gru_seq", "gru_seq_h5", "gru_time_distributed", "gru_wide", "keras2_gru",
		"keras2_simple_rnn_bidi", "simple_rnn", "simple_rnn_h5", "text_lstm2"} {
		paths = append(paths, filepath.Join("..", "testdata", "keras", n+".npz"))
	}
	for _, n := range []string{"embed_lstm", "mask_zero_bigru", "mask_zero_gru", "masking_rnn", "td_bigru", "varlen_bigru", "varlen_gru"} {
		paths = append(paths, filepath.Join("..", "testdata", "seq", n+".npz"))
	}
	for _, p := range paths {
		m, err := keras.Load(p)
		if err != nil {
			b.Fatal(err)
		}
		s := m.Samples
		if len(s.Xs) != 1 {
			continue
		}
		x := s.X[:len(s.X)/s.N]
		name := filepath.Base(p)
		name = name[:len(name)-len(".npz")]
		for _, isa := range []string{"generic", ""} {
			cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa, MaxBatch: 1})
			if err != nil {
				b.Fatal(err)
			}
			tag := isa
			if tag == "" {
				tag = cm.ISA()
			}
			y := make([]float32, cm.OutputShape().Size())
			b.Run(name+"/"+tag, func(b *testing.B) {
				for b.Loop() {
					if err := cm.RunInto(y, x, 1); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
