package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

func cmdInfo(args []string, stdout io.Writer) error {
	fs := newFlags("info", "info MODEL [--batch N]", stdout)
	batch := fs.Int("batch", 1, "batch size the arena is planned for")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *batch < 1 {
		return fmt.Errorf("%w: --batch must be at least 1", errUsage)
	}
	l, err := load(pos[0])
	if err != nil {
		return err
	}
	m, err := compile(l, *batch)
	if err != nil {
		return err
	}
	g := l.graph
	fmt.Fprintf(stdout, "Model: %s\nFormat: %s\n", pos[0], l.format)
	kind := ""
	if g.Inputs()[0].DType == layers.Int32 {
		kind = fmt.Sprintf(" int32 token ids (vocabulary %d)", g.Vocabulary(0))
	}
	if g.Meta("variable_axes") == "0" {
		kind += fmt.Sprintf(", time axis variable up to %d", g.Input()[0])
	}
	if g.Meta("stateful") == "true" {
		kind += ", stateful (stream it: kinfer stream)"
	}
	fmt.Fprintf(stdout, "Input: %v%s  Output: %v\n\n", g.Input(), kind, g.Output())
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Layer (type)\tOutput Shape\tParam #\tKernel\t")
	fmt.Fprintln(tw, "------------\t------------\t-------\t------\t")
	kernels := m.Kernels()
	for i := 0; i < g.Len(); i++ {
		li := g.Layer(i).LayerInfo()
		fmt.Fprintf(tw, "%s (%s)\t%v\t%s\t%s\t\n", li.Name, li.Class, g.OutShape(i), commas(layers.ParamCount(g.Layer(i))), kernels[i])
	}
	tw.Flush()
	fmt.Fprintln(stdout, strings.Repeat("-", 60))
	fmt.Fprintf(stdout, "Total params: %s (%s)\n", commas(g.Params()), bytesStr(4*g.Params()))
	fmt.Fprintf(stdout, "FLOPs per inference: %s\n", commas(g.FLOPs()))
	fmt.Fprintf(stdout, "Arena: %s per execution state (batch %d)\n", bytesStr(m.ArenaBytes()), *batch)
	fmt.Fprintf(stdout, "Kernel path: %s\nCPU: %s\n", m.ISA(), asm.Features())
	fmt.Fprintf(stdout, "Fingerprint: highwayhash128:%s\n", g.Fingerprint())
	if l.samples != nil {
		fmt.Fprintf(stdout, "Stored samples: %d (run 'kinfer verify %s')\n", l.samples.N, pos[0])
	}
	return nil
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func bytesStr(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
