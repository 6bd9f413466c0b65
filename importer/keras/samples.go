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

// sampleArrays reads samples/<kind> or samples/<kind>_0, _1, ... (each (N, ...)).
func sampleArrays(a *archive, kind, file string) ([][]float32, [][]int, error) {
	var names []string
	if a.has("samples/" + kind) {
		if a.has("samples/" + kind + "_0") {
			return nil, nil, fmt.Errorf("%s: both samples/%s.npy and samples/%s_0.npy are present: %w", file, kind, kind, layers.ErrBadFile)
		}
		names = []string{"samples/" + kind}
	} else {
		for i := 0; a.has("samples/" + kind + "_" + strconv.Itoa(i)); i++ {
			names = append(names, "samples/"+kind+"_"+strconv.Itoa(i))
		}
	}
	var data [][]float32
	var shapes [][]int
	for _, n := range names {
		arr, err := a.float32s(n)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(arr.Shape) == 0 || arr.Shape[0] == 0 {
			return nil, nil, fmt.Errorf("%s: member %s.npy has shape %v, want (N, ...) with N > 0: %w", file, n, arr.Shape, layers.ErrBadFile)
		}
		data = append(data, arr.Data)
		shapes = append(shapes, arr.Shape)
	}
	return data, shapes, nil
}

// readSamples reads the stored sample inputs and outputs, or returns nil when the npz
// has none.
func readSamples(a *archive, file string) (*Samples, error) {
	xs, xsh, err := sampleArrays(a, "x", file)
	if err != nil || xs == nil {
		return nil, err
	}
	smp := &Samples{N: xsh[0][0], Xs: xs, XShapes: xsh, X: xs[0], XShape: xsh[0]}
	for i, s := range xsh {
		if s[0] != smp.N {
			return nil, fmt.Errorf("%s: sample input %d has %d samples, input 0 has %d: %w", file, i, s[0], smp.N, layers.ErrBadFile)
		}
	}
	ys, ysh, err := sampleArrays(a, "y", file)
	if err != nil {
		return nil, err
	}
	for i, s := range ysh {
		if s[0] != smp.N {
			return nil, fmt.Errorf("%s: member %s.npy has shape %v, want (%d, output...): %w", file, sampleName("y", i, len(ysh)), s, smp.N, layers.ErrBadFile)
		}
	}
	if ys != nil {
		smp.Ys, smp.YShapes, smp.Y, smp.YShape = ys, ysh, ys[0], ysh[0]
	}
	return smp, nil
}
