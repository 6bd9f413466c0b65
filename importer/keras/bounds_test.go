package keras

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// zeroNpy is a float32 .npy of the shape holding zeros (deflates ~1000:1).
func zeroNpy(shape ...int) []byte {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return npyRaw(fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", tuple(shape)), make([]byte, 4*n))
}

func tuple(shape []int) string {
	s := "("
	for i, d := range shape {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(d)
	}
	if len(shape) == 1 {
		s += ","
	}
	return s + ")"
}

// bombModel is a Dense(units) on input in whose kernel member is raw.
func bombModel(in, units int, kernel []byte) *tmodel {
	cfg := seq3("s", input3(in), k3("Dense", map[string]any{"name": "dense_1", "units": units, "activation": "linear", "use_bias": false}))
	return &tmodel{config: cfg, raw: map[string][]byte{"w/dense_1/0.npy": kernel},
		metaEdit: func(m map[string]any) { m["weights"] = map[string]any{"dense_1": []string{"w/dense_1/0"}} }}
}

// breakCRC flips the CRC-32 the central directory records for member name.
func breakCRC(t *testing.T, z []byte, name string) []byte {
	t.Helper()
	z = append([]byte(nil), z...)
	for i := 0; i+46 <= len(z); i++ {
		if binary.LittleEndian.Uint32(z[i:]) != 0x02014b50 {
			continue
		}
		nl := int(binary.LittleEndian.Uint16(z[i+28:]))
		if i+46+nl <= len(z) && string(z[i+46:i+46+nl]) == name {
			binary.LittleEndian.PutUint32(z[i+16:], binary.LittleEndian.Uint32(z[i+16:])^0xdeadbeef)
			return z
		}
	}
	t.Fatalf("member %s not in the central directory", name)
	return nil
}

// TestWeightShapeBeforeRead: a deflated weight that expands to 64 MiB but has the
// wrong shape is refused from its header, without reading (allocating) its payload.
func TestWeightShapeBeforeRead(t *testing.T) {
	data := bombModel(784, 4, zeroNpy(16<<20)).bytes()
	if len(data) > 1<<20 {
		t.Fatalf("bomb is %d bytes, want a small file", len(data))
	}
	var err error
	got := allocated(func() { _, err = Read(bytes.NewReader(data), int64(len(data)), "bomb.npz") })
	if !errors.Is(err, layers.ErrShapeMismatch) {
		t.Fatalf("err = %v, want ErrShapeMismatch", err)
	}
	if got > 8<<20 {
		t.Errorf("refusing the bomb allocated %d bytes, want < 8 MiB", got)
	}
}

// TestCorruptLargeWeight: a large deflated weight of the right shape whose CRC-32 does
// not match is refused before its 64 MiB buffer is allocated.
func TestCorruptLargeWeight(t *testing.T) {
	good := bombModel(1024, 16384, zeroNpy(1024, 16384)).bytes()
	if _, err := Read(bytes.NewReader(good), int64(len(good)), "good.npz"); err != nil {
		t.Fatalf("intact file: %v", err)
	}
	data := breakCRC(t, good, "w/dense_1/0.npy")
	var err error
	got := allocated(func() { _, err = Read(bytes.NewReader(data), int64(len(data)), "crc.npz") })
	if !errors.Is(err, layers.ErrBadFile) {
		t.Fatalf("err = %v, want ErrBadFile", err)
	}
	if got > 8<<20 {
		t.Errorf("refusing the corrupt member allocated %d bytes, want < 8 MiB", got)
	}
}

// TestSampleBounds: samples are read only when asked for and within their bound.
func TestSampleBounds(t *testing.T) {
	tm := &tmodel{config: denseModel(4, nil), weights: denseW(784, 4),
		raw: map[string][]byte{"samples/x.npy": zeroNpy(20000, 784)}}
	data := tm.bytes()
	read := func(opt Options) (m *Model, err error, alloc uint64) {
		alloc = allocated(func() { m, err = ReadWith(bytes.NewReader(data), int64(len(data)), "s.npz", opt) })
		return
	}
	m, err, alloc := read(Options{SkipSamples: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.Samples != nil || m.StoredSamples != 20000 {
		t.Errorf("SkipSamples: Samples = %v, StoredSamples = %d, want nil and 20000", m.Samples != nil, m.StoredSamples)
	}
	if alloc > 8<<20 {
		t.Errorf("SkipSamples allocated %d bytes for 62 MB of samples, want < 8 MiB", alloc)
	}
	_, err, alloc = read(Options{MaxSampleBytes: 16 << 20})
	if !errors.Is(err, layers.ErrTooLarge) {
		t.Fatalf("over MaxSampleBytes: err = %v, want ErrTooLarge", err)
	}
	if alloc > 8<<20 {
		t.Errorf("refusing the samples allocated %d bytes, want < 8 MiB", alloc)
	}
	m, err, _ = read(Options{})
	if err != nil || m.Samples == nil || len(m.Samples.X) != 20000*784 {
		t.Fatalf("default bound: err = %v, samples read = %v", err, m != nil && m.Samples != nil)
	}
	// A samples header that disagrees with the model is refused before reading.
	tm.raw["samples/x.npy"] = zeroNpy(8, 1<<21)
	data = tm.bytes()
	_, err, alloc = read(Options{})
	if !errors.Is(err, layers.ErrShapeMismatch) || alloc > 8<<20 {
		t.Errorf("mismatched samples: err = %v, allocated %d, want ErrShapeMismatch and < 8 MiB", err, alloc)
	}
}

func TestWeightBound(t *testing.T) {
	data := (&tmodel{config: denseModel(4, nil), weights: denseW(784, 4)}).bytes()
	if _, err := ReadWith(bytes.NewReader(data), int64(len(data)), "w.npz", Options{MaxWeightBytes: 4 << 10}); !errors.Is(err, layers.ErrTooLarge) {
		t.Errorf("12.5 KB of weights over a 4 KiB bound: err = %v, want ErrTooLarge", err)
	}
	if _, err := ReadWith(bytes.NewReader(data), int64(len(data)), "w.npz", Options{MaxWeightBytes: 16 << 10}); err != nil {
		t.Errorf("within the bound: %v", err)
	}
}

// TestNpyVariants: big-endian members written by numpy, and headers with other key
// orders and '=f4', import to the same graph as the zoo file and match Keras.
func TestNpyVariants(t *testing.T) {
	ref, err := Load(filepath.Join("..", "..", "testdata", "keras", "mlp_regressor.npz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mlp_regressor_be.npz", "mlp_regressor_keys.npz"} {
		t.Run(name, func(t *testing.T) {
			m, err := Load(filepath.Join("..", "..", "testdata", "npy", name))
			if err != nil {
				t.Fatal(err)
			}
			if m.Graph.Fingerprint() != ref.Graph.Fingerprint() {
				t.Errorf("fingerprint %s, zoo file %s", m.Graph.Fingerprint(), ref.Graph.Fingerprint())
			}
			for i := range ref.Samples.X {
				if m.Samples.X[i] != ref.Samples.X[i] {
					t.Fatalf("samples/x[%d] = %g, zoo file %g", i, m.Samples.X[i], ref.Samples.X[i])
				}
			}
			matchSamples(t, m)
		})
	}
}
