package runtime_test

import (
	"testing"

	"github.com/kinfer/kinfer/importer/keras"

	"github.com/kinfer/kinfer/runtime"
)

// BenchmarkSeq times the sequence fixtures at batch 1: the compiled whole-sequence run
// (RunInto; token ids as int32 bits), one Stream step, and RunSeqInto at the full length
// (the compiled kernels) and at half of it (the step path, or for a model a stream
// cannot run the length-masked copy at the full length).
func BenchmarkSeq(b *testing.B) {
	for _, name := range []string{"embed_lstm", "mask_zero_lstm", "mask_zero_bilstm", "masking_lstm", "varlen_lstm",
		"mask_zero_gru", "mask_zero_bigru", "mask_zero_gru_wide", "masking_rnn", "varlen_gru", "varlen_embed_gru",
		"varlen_bigru", "varlen_embed_bilstm_seq"} {
		m, err := loadSeqB(name)
		if err != nil {
			b.Fatal(err)
		}
		s := m.Samples
		T, in := m.Graph.Input()[0], len(s.X)/s.N
		x := s.X[:in]
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
			b.Run(name+"/run/"+tag, func(b *testing.B) {
				for b.Loop() {
					_ = cm.RunInto(y, x, 1)
				}
			})
			if isa == "" {
				if st, err := cm.NewStream(1); err == nil { // not streamable: Bidirectional
					out := make([]float32, st.OutputLen(1))
					b.Run(name+"/stream_step", func(b *testing.B) {
						t := 0
						for b.Loop() {
							_ = st.Step(out, x[t*in/T:(t+1)*in/T], 1)
							t = (t + 1) % T
						}
					})
				}
				ys := make([]float32, cm.SeqOutputLen(T))
				if cm.RunSeqInto(ys, x, 1, T) != nil {
					continue // no variable length (Conv1D)
				}
				b.Run(name+"/runseq", func(b *testing.B) {
					for b.Loop() {
						_ = cm.RunSeqInto(ys, x, 1, T)
					}
				})
				h := T / 2 // a shorter length: the step path, or the length-masked copy
				b.Run(name+"/runseq_half", func(b *testing.B) {
					for b.Loop() {
						_ = cm.RunSeqInto(ys, x[:h*in/T], 1, h)
					}
				})
			}
		}
	}
}

func loadSeqB(name string) (*keras.Model, error) { return keras.Load(seqPath(name + ".npz")) }
