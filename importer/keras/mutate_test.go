package keras

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestMutations reads byte-mutated copies of the seed models and checks each read
// returns (an error or a model) within 3 s without panicking. It runs for 300 ms, or
// for 60 s with KINFER_STRESS=1.
func TestMutations(t *testing.T) {
	dur := 300 * time.Millisecond
	if os.Getenv("KINFER_STRESS") != "" {
		dur = 60 * time.Second
	}
	var seeds [][]byte
	for _, tm := range seedModels() {
		seeds = append(seeds, tm.bytes())
	}
	for _, p := range zooFiles(t) {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 && len(b) < 64<<10 {
			seeds = append(seeds, b)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(dur)
	n := 0
	for time.Now().Before(deadline) {
		s := append([]byte(nil), seeds[r.IntN(len(seeds))]...)
		for k := r.IntN(4) + 1; k > 0; k-- {
			i := r.IntN(len(s))
			switch r.IntN(3) {
			case 0:
				s[i] = byte(r.IntN(256))
			case 1:
				s[i] ^= 1 << r.IntN(8)
			case 2:
				s[i] = []byte{0, 0xff, 0x7f, 0x80}[r.IntN(4)]
			}
		}
		t0 := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			m, err := Read(bytes.NewReader(s), int64(len(s)), "x")
			if err != nil && !isNamed(err) {
				t.Errorf("error wraps no named error: %v", err)
			}
			if err == nil && m.Samples != nil && m.Samples.N <= 4 && m.Graph.FLOPs() < 1e7 {
				m.Graph.Reference(m.Samples.X, m.Samples.N)
			}
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			os.WriteFile("/tmp/hang.npz", s, 0o644)
			t.Fatalf("hang after %d runs, input in /tmp/hang.npz", n)
		}
		if d := time.Since(t0); d > 500*time.Millisecond {
			os.WriteFile("/tmp/slow.npz", s, 0o644)
			t.Logf("slow: %v", d)
		}
		n++
	}
	t.Logf("%d mutated files read", n)
}
