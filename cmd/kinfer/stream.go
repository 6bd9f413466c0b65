package main

import (
	"fmt"
	"io"

	"github.com/kinfer/kinfer/layers"
)

// cmdStream feeds one sequence to a recurrent model a chunk at a time through a
// runtime.Stream and prints the output after each chunk, then checks the last against
// the whole-sequence run: a way to watch the step API (and Keras stateful models) work.
func cmdStream(args []string, stdout io.Writer) error {
	fs := newFlags("stream", "stream MODEL INPUT.npy [--chunk N] [--max N]", stdout)
	chunk := fs.Int("chunk", 1, "timesteps per step call")
	maxPrint := fs.Int("max", 8, "print at most this many values per output")
	fs.IntVar(&maxLen, "max-len", 0, "models with a None (dynamic) sequence axis: its maximum length (default: the stored samples' length for .npz)")
	maxArena := arenaFlag(fs)
	pos, err := parseArgs(fs, args, 2)
	if err != nil {
		return err
	}
	if *chunk < 1 {
		return fmt.Errorf("%w: --chunk must be >= 1", errUsage)
	}
	l, err := load(pos[0], false, 1, maxArena)
	if err != nil {
		return err
	}
	x, shape, err := readInput(pos[1], l.graph)
	if err != nil {
		return err
	}
	in := l.graph.Input()
	if len(shape) == len(in)+1 && shape[0] == 1 {
		shape = shape[1:]
	}
	if len(shape) != len(in) || len(in) == 0 || !layers.Shape(shape[1:]).Equal(in[1:]) {
		return fmt.Errorf("%s: %w: array shape %v is not one sequence (timesteps, ...%v)", pos[1], layers.ErrShapeMismatch, shape, []int(in[1:]))
	}
	m, err := compile(l, 1, maxArena)
	if err != nil {
		return err
	}
	s, err := m.NewStream(*chunk)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	t, per := shape[0], len(x)/max(shape[0], 1)
	var last []float32
	for t0 := 0; t0 < t; t0 += *chunk {
		n := min(*chunk, t-t0)
		y := make([]float32, s.OutputLen(n))
		if err := s.Step(y, x[t0*per:(t0+n)*per], n); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "steps %d-%d:", t0, t0+n-1)
		for i, v := range y {
			if i == *maxPrint {
				fmt.Fprintf(stdout, " ... (%d more)", len(y)-i)
				break
			}
			fmt.Fprintf(stdout, " %.6g", v)
		}
		fmt.Fprintln(stdout)
		last = y
	}
	if t == in[0] && len(last) == m.OutputShape().Size() {
		whole, err := m.Run(x, 1)
		if err != nil {
			return err
		}
		d := 0.0
		for i := range whole {
			d = max(d, float64(abs32(whole[i]-last[i])))
		}
		fmt.Fprintf(stdout, "whole-sequence run (kernel path %s): max |difference| from the stream's last output %.3g\n", m.ISA(), d)
	}
	return nil
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
