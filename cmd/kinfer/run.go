package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/kinfer/kinfer/layers"
)

func cmdRun(args []string, stdout io.Writer) error {
	fs := newFlags("run", "run MODEL INPUT.npy [INPUT2.npy ...] [-o OUT.npy] [--max N]\n(one .npy per model input; output k > 0 of a multi-output model goes to OUT.k.npy)", stdout)
	out := fs.String("o", "", "write the output to this .npy file (float32) instead of printing it")
	maxPrint := fs.Int("max", 20, "print at most this many values per sample")
	maxArena := arenaFlag(fs)
	fs.IntVar(&maxLen, "max-len", 0, "models with a None (dynamic) sequence axis: its maximum length (default: the stored samples' length for .npz)")
	pos, err := parseArgs(fs, args, -2)
	if err != nil {
		return err
	}
	l, err := load(pos[0], false, 0, maxArena)
	if err != nil {
		return err
	}
	if multiIO(l.graph) || len(pos) > 2 {
		return runMulti(l, pos[1:], *out, *maxPrint, maxArena, stdout)
	}
	x, shape, err := readInput(pos[1], l.graph)
	if err != nil {
		return err
	}
	var y []float32
	var oshape []int
	batch, err := batchOf(shape, l.graph.Input(), pos[1])
	if err != nil && l.graph.Meta("variable_axes") == "0" {
		// a variable-length model: run at the input's length
		var n int
		if batch, n, err = seqBatchOf(shape, l.graph.Input(), pos[1]); err != nil {
			return err
		}
		m, err := compile(l, 1, maxArena)
		if err != nil {
			return err
		}
		y = make([]float32, batch*m.SeqOutputLen(n))
		if err := m.RunSeqInto(y, x, batch, n); err != nil {
			return err
		}
		oshape = append([]int{batch}, l.graph.Output()...)
		if len(y) != batch*l.graph.Output().Size() {
			oshape[1] = n
		}
	} else if err != nil {
		return err
	} else {
		m, err := compile(l, min(batch, 256), maxArena)
		if err != nil {
			return err
		}
		if y, err = m.Run(x, batch); err != nil {
			return err
		}
		oshape = append([]int{batch}, l.graph.Output()...)
	}
	if *out != "" {
		return writeNpy(*out, y, oshape)
	}
	fmt.Fprintf(stdout, "output shape %v\n", oshape)
	per := len(y) / batch
	softmax := endsInSoftmax(l.graph)
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
	return nil
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

// endsInSoftmax reports whether the model's last non-trivial layer is a softmax.
func endsInSoftmax(g *layers.Graph) bool {
	for i := g.Len() - 1; i >= 0; i-- {
		switch l := g.Layer(i).(type) {
		case *layers.Identity, *layers.Reshape:
			continue
		case *layers.Dense:
			return l.Act.Kind == layers.Softmax
		case *layers.ActivationLayer:
			return l.Act.Kind == layers.Softmax
		default:
			return false
		}
	}
	return false
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
