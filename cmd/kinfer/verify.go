package main

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/internal/npyf"
)

var errVerifyFailed = errors.New("verification failed")

func cmdVerify(args []string, stdout io.Writer) error {
	fs := newFlags("verify", "verify MODEL [--input X.npy --expect Y.npy] [--atol A] [--rtol R]", stdout)
	xin := fs.String("input", "", "inputs to run (default: the samples stored in the .npz)")
	yexp := fs.String("expect", "", "expected outputs for --input (e.g. ONNX Runtime's)")
	atol := fs.Float64("atol", 1e-5, "absolute tolerance")
	rtol := fs.Float64("rtol", 1e-5, "relative tolerance: pass when |got-want| <= atol + rtol*|want|")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	l, err := load(pos[0])
	if err != nil {
		return err
	}
	s := l.samples
	if (*xin == "") != (*yexp == "") {
		return fmt.Errorf("%w: --input and --expect go together", errUsage)
	}
	if *xin != "" {
		if s, err = samplesFrom(*xin, *yexp, l); err != nil {
			return err
		}
	}
	if s == nil || s.N == 0 || s.Y == nil {
		return fmt.Errorf("%s: no stored samples; export with keras2npz.py --samples N, or pass --input and --expect", pos[0])
	}
	m, err := compile(l, s.N)
	if err != nil {
		return err
	}
	got, err := m.Run(s.X, s.N)
	if err != nil {
		return err
	}
	if len(got) != len(s.Y) {
		return fmt.Errorf("%s: stored outputs have %d values, model gives %d", pos[0], len(s.Y), len(got))
	}
	var maxAbs, maxRel, worst float64
	bad := 0
	for i := range got {
		g, w := float64(got[i]), float64(s.Y[i])
		d := math.Abs(g - w)
		if math.IsNaN(d) && !(math.IsNaN(g) && math.IsNaN(w)) {
			d = math.Inf(1)
		}
		maxAbs = math.Max(maxAbs, d)
		if w != 0 {
			maxRel = math.Max(maxRel, d/math.Abs(w))
		}
		if r := d / (*atol + *rtol*math.Abs(w)); r > worst || math.IsNaN(d) {
			worst = r
		}
		if d > *atol+*rtol*math.Abs(w) {
			bad++
		}
	}
	fmt.Fprintf(stdout, "%s: %d samples, %d outputs, kernel path %s\n", pos[0], s.N, len(got), m.ISA())
	fmt.Fprintf(stdout, "max abs error %.3g, max rel error %.3g, bound %g + %g*|want| (worst at %.2f of bound)\n", maxAbs, maxRel, *atol, *rtol, worst)
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d outputs outside the bound", errVerifyFailed, bad, len(got))
	}
	fmt.Fprintln(stdout, "OK")
	return nil
}

// samplesFrom reads an input batch and its expected outputs from .npy files.
func samplesFrom(xpath, ypath string, l *loaded) (*keras.Samples, error) {
	x, xs, err := readInput(xpath, l.graph)
	if err != nil {
		return nil, err
	}
	n, err := batchOf(xs, l.graph.Input(), xpath)
	if err != nil {
		return nil, err
	}
	y, _, err := npyf.ReadFile(ypath)
	if err != nil {
		return nil, err
	}
	return &keras.Samples{N: n, X: x, Y: y}, nil
}
