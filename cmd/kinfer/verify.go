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
	fs := newFlags("verify", "verify MODEL [--input X.npy --expect Y.npy] [--atol A] [--rtol R]\n(several inputs/outputs: --input X0.npy,X1.npy --expect Y0.npy,Y1.npy)", stdout)
	xin := fs.String("input", "", "inputs to run (default: the samples stored in the .npz); comma-separated, one per model input")
	yexp := fs.String("expect", "", "expected outputs for --input (e.g. ONNX Runtime's); comma-separated, one per model output")
	atol := fs.Float64("atol", 1e-5, "absolute tolerance")
	rtol := fs.Float64("rtol", 1e-5, "relative tolerance: pass when |got-want| <= atol + rtol*|want|")
	maxArena := arenaFlag(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	l, err := load(pos[0], true, 0, maxArena)
	if err != nil {
		return err
	}
	s := l.samples
	if (*xin == "") != (*yexp == "") {
		return fmt.Errorf("%w: --input and --expect go together", errUsage)
	}
	if multiIO(l.graph) && *xin != "" {
		return verifyMulti(l, *xin, *yexp, *atol, *rtol, maxArena, stdout)
	}
	if *xin != "" {
		if l.graph.NumInputs() != 1 || len(l.graph.Outputs()) != 1 {
			return fmt.Errorf("%w: --input/--expect take one array each; this model has %d inputs and %d outputs (store samples with keras2npz.py --samples N)", errUsage, l.graph.NumInputs(), len(l.graph.Outputs()))
		}
		if s, err = samplesFrom(*xin, *yexp, l); err != nil {
			return err
		}
	}
	if s == nil || s.N == 0 || s.Y == nil {
		return fmt.Errorf("%s: no stored samples; export with keras2npz.py --samples N, or pass --input and --expect", pos[0])
	}
	m, err := compile(l, min(s.N, 256), maxArena)
	if err != nil {
		return err
	}
	xs, ys := s.Xs, s.Ys
	if xs == nil { // samples built by samplesFrom, or by an older caller
		xs, ys = [][]float32{s.X}, [][]float32{s.Y}
	}
	if len(ys) != len(m.Outputs()) {
		return fmt.Errorf("%s: %d stored outputs, the model has %d", pos[0], len(ys), len(m.Outputs()))
	}
	gots, err := m.RunMulti(xs, s.N)
	if err != nil {
		return err
	}
	var maxAbs, maxRel, worst float64
	bad, total := 0, 0
	for k, got := range gots {
		want := ys[k]
		if len(got) != len(want) {
			return fmt.Errorf("%s: stored output %d has %d values, model gives %d", pos[0], k, len(want), len(got))
		}
		var oAbs float64
		for i := range got {
			g, w := float64(got[i]), float64(want[i])
			d := math.Abs(g - w)
			if math.IsNaN(d) && !(math.IsNaN(g) && math.IsNaN(w)) {
				d = math.Inf(1)
			}
			oAbs = math.Max(oAbs, d)
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
		maxAbs = math.Max(maxAbs, oAbs)
		total += len(got)
		if len(gots) > 1 {
			fmt.Fprintf(stdout, "output %d %q: %d values, max abs error %.3g\n", k, m.Outputs()[k].Name, len(got), oAbs)
		}
	}
	fmt.Fprintf(stdout, "%s: %d samples, %d outputs, kernel path %s\n", pos[0], s.N, total, m.ISA())
	fmt.Fprintf(stdout, "max abs error %.3g, max rel error %.3g, bound %g + %g*|want| (worst at %.2f of bound)\n", maxAbs, maxRel, *atol, *rtol, worst)
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d outputs outside the bound", errVerifyFailed, bad, total)
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
