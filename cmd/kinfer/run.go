package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/layers"
)

func cmdRun(args []string, stdout io.Writer) error {
	fs := newFlags("run", "run MODEL INPUT.npy... [-o OUT.npy] [--max N]", stdout)
	out := fs.String("o", "", "write the output to this .npy file (float32) instead of printing it; with several outputs, output k goes to OUT_k.npy")
	maxPrint := fs.Int("max", 20, "print at most this many values per sample")
	pos, err := parseArgsMin(fs, args, 2)
	if err != nil {
		return err
	}
	l, err := load(pos[0])
	if err != nil {
		return err
	}
	ins := l.graph.Inputs()
	if len(pos)-1 != len(ins) {
		names := make([]string, len(ins))
		for i, t := range ins {
			names[i] = fmt.Sprintf("%s %v", t.Name, t.Shape)
		}
		return fmt.Errorf("%w: the model has %d input(s) (%s): give one .npy per input, in that order; got %d", errUsage, len(ins), strings.Join(names, ", "), len(pos)-1)
	}
	xs := make([][]float32, len(ins))
	batch := 0
	for i, t := range ins {
		x, shape, err := npyf.ReadFile(pos[1+i])
		if err != nil {
			return err
		}
		n, err := batchOf(shape, t.Shape, pos[1+i])
		if err != nil {
			return err
		}
		if i > 0 && n != batch {
			return fmt.Errorf("%s: %w: %d samples, %s has %d", pos[1+i], layers.ErrShapeMismatch, n, pos[1], batch)
		}
		xs[i], batch = x, n
	}
	m, err := compile(l, min(batch, 256))
	if err != nil {
		return err
	}
	ys, err := m.RunMulti(xs, batch)
	if err != nil {
		return err
	}
	outs := l.graph.Outputs()
	if *out != "" {
		for k, y := range ys {
			path := *out
			if len(ys) > 1 {
				ext := filepath.Ext(path)
				path = fmt.Sprintf("%s_%d%s", strings.TrimSuffix(path, ext), k, ext)
			}
			if err := writeNpy(path, y, append([]int{batch}, outs[k].Shape...)); err != nil {
				return err
			}
		}
		return nil
	}
	for k, y := range ys {
		oshape := append([]int{batch}, outs[k].Shape...)
		if len(ys) > 1 {
			fmt.Fprintf(stdout, "output %d %q shape %v\n", k, outs[k].Name, oshape)
		} else {
			fmt.Fprintf(stdout, "output shape %v\n", oshape)
		}
		per := outs[k].Shape.Size()
		softmax := producedBySoftmax(l.graph, l.graph.OutputValues()[k])
		for b := 0; b < batch; b++ {
			row := y[b*per : (b+1)*per]
			fmt.Fprintf(stdout, "[%d] ", b)
			for i, v := range row {
				if i == *maxPrint {
					fmt.Fprintf(stdout, "... (%d more)", len(row)-i)
					break
				}
				fmt.Fprintf(stdout, "%.6g ", v)
			}
			fmt.Fprintln(stdout)
			if softmax {
				fmt.Fprintf(stdout, "    top: %s\n", topK(row, 5))
			}
		}
	}
	return nil
}

func writeNpy(path string, y []float32, shape []int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := npyf.WriteFloat32(f, y, shape); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// batchOf matches an input array's shape to the model input: either exactly one
// sample (a batch axis is added) or a batch of them.
func batchOf(shape []int, in layers.Shape, path string) (int, error) {
	if layers.Shape(shape).Equal(in) {
		return 1, nil
	}
	if len(shape) == len(in)+1 && layers.Shape(shape[1:]).Equal(in) {
		if shape[0] < 1 {
			return 0, fmt.Errorf("%s: empty batch", path)
		}
		return shape[0], nil
	}
	return 0, fmt.Errorf("%s: %w: array shape %v does not match the model input %v (one sample) or (N, %v)",
		path, layers.ErrShapeMismatch, shape, []int(in), in.String()[len("(None, "):len(in.String())-1])
}

// producedBySoftmax reports whether value v comes from a softmax, looking back
// through layers that do not change values (Identity, Reshape).
func producedBySoftmax(g *layers.Graph, v layers.Value) bool {
	for {
		i := int(v) - g.NumInputs()
		if i < 0 {
			return false
		}
		switch l := g.Layer(i).(type) {
		case *layers.Identity, *layers.Reshape:
			v = g.NodeInputs(i)[0]
			continue
		case *layers.Dense:
			return l.Act.Kind == layers.Softmax
		case *layers.ActivationLayer:
			return l.Act.Kind == layers.Softmax
		}
		return false
	}
}

func topK(row []float32, k int) string {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
	s := ""
	for i := 0; i < min(k, len(idx)); i++ {
		s += fmt.Sprintf("class %d (%.4f)  ", idx[i], row[idx[i]])
	}
	return s
}
