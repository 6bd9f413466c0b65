package keras

import (
	"fmt"
	"strconv"

	"github.com/kinfer/kinfer/layers"
)

// sampleName is the npz member (without .npy) of sample input ("x") or output ("y") i
// of n: samples/x for a lone one, samples/x_<i> otherwise (docs/npz-format.md).
func sampleName(kind string, i, n int) string {
	if n == 1 {
		return "samples/" + kind
	}
	return "samples/" + kind + "_" + strconv.Itoa(i)
}

// sampleArrays returns the headers (shape, data unread) of samples/<kind> or
// samples/<kind>_0, _1, ... (each (N, ...)).
func sampleArrays(a *archive, kind, file string) ([]*array, [][]int, []string, error) {
	var names []string
	if a.has("samples/" + kind) {
		if a.has("samples/" + kind + "_0") {
			return nil, nil, nil, fmt.Errorf("%s: both samples/%s.npy and samples/%s_0.npy are present: %w", file, kind, kind, layers.ErrBadFile)
		}
		names = []string{"samples/" + kind}
	} else {
		for i := 0; a.has("samples/" + kind + "_" + strconv.Itoa(i)); i++ {
			names = append(names, "samples/"+kind+"_"+strconv.Itoa(i))
		}
	}
	var arrs []*array
	var shapes [][]int
	for _, n := range names {
		arr, err := a.lazy(n)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(arr.Shape) == 0 || arr.Shape[0] == 0 {
			return nil, nil, nil, fmt.Errorf("%s: member %s.npy has shape %v, want (N, ...) with N > 0: %w", file, n, arr.Shape, layers.ErrBadFile)
		}
		arrs = append(arrs, arr)
		shapes = append(shapes, arr.Shape)
	}
	return arrs, shapes, names, nil
}

// storedSamples are the sample members' headers, read before the model is built so
// their shapes can be checked against it; the payloads are read later, and only if
// wanted (fetch).
type storedSamples struct {
	smp    *Samples // shapes only until fetch
	xs, ys []*array
	names  []string // every sample member
}

// readSamples reads the headers of the stored sample inputs and outputs, or returns
// nil when the npz has none.
func readSamples(a *archive, file string) (*storedSamples, error) {
	xs, xsh, xn, err := sampleArrays(a, "x", file)
	if err != nil || xs == nil {
		return nil, err
	}
	smp := &Samples{N: xsh[0][0], XShapes: xsh, XShape: xsh[0]}
	for i, s := range xsh {
		if s[0] != smp.N {
			return nil, fmt.Errorf("%s: sample input %d has %d samples, input 0 has %d: %w", file, i, s[0], smp.N, layers.ErrBadFile)
		}
	}
	ys, ysh, yn, err := sampleArrays(a, "y", file)
	if err != nil {
		return nil, err
	}
	for i, s := range ysh {
		if s[0] != smp.N {
			return nil, fmt.Errorf("%s: member %s.npy has shape %v, want (%d, output...): %w", file, sampleName("y", i, len(ysh)), s, smp.N, layers.ErrBadFile)
		}
	}
	if ys != nil {
		smp.YShapes, smp.YShape = ysh, ysh[0]
	}
	return &storedSamples{smp: smp, xs: xs, ys: ys, names: append(xn, yn...)}, nil
}

// bytes is the declared size of every sample member.
func (s *storedSamples) bytes(a *archive) int64 {
	var n int64
	for _, name := range s.names {
		n += a.memberBytes(name)
	}
	return n
}

// fetch reads the payloads into smp.
func (s *storedSamples) fetch(file string) error {
	for _, arr := range s.xs {
		if err := arr.fetch(); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		s.smp.Xs = append(s.smp.Xs, arr.Data)
	}
	for _, arr := range s.ys {
		if err := arr.fetch(); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		s.smp.Ys = append(s.smp.Ys, arr.Data)
	}
	s.smp.X = s.smp.Xs[0]
	if len(s.smp.Ys) > 0 {
		s.smp.Y = s.smp.Ys[0]
	}
	return nil
}
