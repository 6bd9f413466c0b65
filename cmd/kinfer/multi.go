package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/layers"
)

// multiIO reports whether a model needs the several-inputs/outputs paths.
func multiIO(g *layers.Graph) bool { return g.NumInputs() != 1 || len(g.Outputs()) != 1 }

// readInputs reads one .npy per model input (in the model's order); all must hold the
// same number of samples.
func readInputs(paths []string, g *layers.Graph) ([][]float32, int, error) {
	ins := g.Inputs()
	if len(paths) != len(ins) {
		names := make([]string, len(ins))
		for k, t := range ins {
			names[k] = fmt.Sprintf("%s %v", t.Name, t.Shape)
		}
		return nil, 0, fmt.Errorf("%w: the model has %d inputs (%s), got %d .npy files", errUsage, len(ins), strings.Join(names, ", "), len(paths))
	}
	xs := make([][]float32, len(paths))
	batch := 0
	for k, p := range paths {
		x, shape, err := readInputAt(p, g, k)
		if err != nil {
			return nil, 0, err
		}
		n, err := batchOf(shape, ins[k].Shape, p)
		if err != nil {
			return nil, 0, err
		}
		if k > 0 && n != batch {
			return nil, 0, fmt.Errorf("%s: %w: %d samples, %s has %d", p, layers.ErrShapeMismatch, n, paths[0], batch)
		}
		xs[k], batch = x, n
	}
	return xs, batch, nil
}

// outPath names output k's file: OUT.npy for the first, OUT.k.npy for the others
// (the convention of testdata/onnx).
func outPath(out string, k int) string {
	if k == 0 {
		return out
	}
	ext := filepath.Ext(out)
	return fmt.Sprintf("%s.%d%s", strings.TrimSuffix(out, ext), k, ext)
}

// splitList splits a comma-separated list of paths.
func splitList(s string) []string { return strings.Split(s, ",") }

// runMulti is `kinfer run` for a model with several inputs or outputs.
func runMulti(l *loaded, inPaths []string, out string, maxPrint int, maxArena *byteSize, stdout io.Writer) error {
	xs, batch, err := readInputs(inPaths, l.graph)
	if err != nil {
		return err
	}
	m, err := compile(l, min(batch, 256), maxArena)
	if err != nil {
		return err
	}
	ys, err := m.RunMulti(xs, batch)
	if err != nil {
		return err
	}
	for k, t := range l.graph.Outputs() {
		shape := append([]int{batch}, t.Shape...)
		if out != "" {
			if err := writeNpy(outPath(out, k), ys[k], shape); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(stdout, "output %d %q shape %v\n", k, t.Name, shape)
		per := t.Shape.Size()
		for b := 0; b < batch; b++ {
			row := ys[k][b*per : (b+1)*per]
			fmt.Fprintf(stdout, "[%d] ", b)
			for i, v := range row {
				if i == maxPrint {
					fmt.Fprintf(stdout, "... (%d more)", len(row)-i)
					break
				}
				fmt.Fprintf(stdout, "%.6g ", v)
			}
			fmt.Fprintln(stdout)
		}
	}
	return nil
}

// verifyMulti is `kinfer verify --input A.npy,B.npy --expect Y0.npy,Y1.npy` for a
// model with several inputs or outputs: one file per input and per output, in order.
func verifyMulti(l *loaded, xin, yexp string, atol, rtol float64, maxArena *byteSize, stdout io.Writer) error {
	if xin == "" {
		return fmt.Errorf("%s: the model has %d inputs and %d outputs: pass --input and --expect with one comma-separated .npy per input and output", l.path, l.graph.NumInputs(), len(l.graph.Outputs()))
	}
	xs, batch, err := readInputs(splitList(xin), l.graph)
	if err != nil {
		return err
	}
	outs := l.graph.Outputs()
	ypaths := splitList(yexp)
	if len(ypaths) != len(outs) {
		return fmt.Errorf("%w: the model has %d outputs, --expect names %d files", errUsage, len(outs), len(ypaths))
	}
	m, err := compile(l, batch, maxArena)
	if err != nil {
		return err
	}
	got, err := m.RunMulti(xs, batch)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d samples, %d outputs, kernel path %s\n", l.path, batch, len(outs), m.ISA())
	bad := 0
	for k, p := range ypaths {
		want, _, err := npyf.ReadFile(p)
		if err != nil {
			return err
		}
		if len(want) != len(got[k]) {
			return fmt.Errorf("%s: %d values, output %d %q has %d", p, len(want), k, outs[k].Name, len(got[k]))
		}
		var maxAbs, worst float64
		for i := range want {
			g, w := float64(got[k][i]), float64(want[i])
			d := math.Abs(g - w)
			if math.IsNaN(d) && !(math.IsNaN(g) && math.IsNaN(w)) {
				d = math.Inf(1)
			} else if math.IsNaN(d) {
				d = 0
			}
			maxAbs = math.Max(maxAbs, d)
			worst = math.Max(worst, d/(atol+rtol*math.Abs(w)))
			if d > atol+rtol*math.Abs(w) {
				bad++
			}
		}
		fmt.Fprintf(stdout, "output %d %q: max abs error %.3g (worst at %.2f of bound %g + %g*|want|)\n", k, outs[k].Name, maxAbs, worst, atol, rtol)
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d values outside the bound", errVerifyFailed, bad)
	}
	fmt.Fprintln(stdout, "OK")
	return nil
}
