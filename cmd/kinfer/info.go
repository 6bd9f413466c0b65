package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kinfer/kinfer/internal/bytesize"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

func cmdInfo(args []string, stdout io.Writer) error {
	fs := newFlags("info", "info MODEL [--batch N]", stdout)
	batch := fs.Int("batch", 1, "batch size the arena is planned for")
	maxArena := arenaFlag(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *batch < 1 {
		return fmt.Errorf("%w: --batch must be at least 1", errUsage)
	}
	l, err := load(pos[0], false, *batch, maxArena)
	if err != nil {
		return err
	}
	m, err := compile(l, *batch, maxArena)
	if err != nil {
		return err
	}
	g := l.graph
	fmt.Fprintf(stdout, "Model: %s\nFormat: %s\n", pos[0], l.format)
	dag := !g.IsChain()
	if dag {
		for _, t := range g.Inputs() {
			fmt.Fprintf(stdout, "Input %q: %v\n", t.Name, t.Shape)
		}
		for k, t := range g.Outputs() {
			fmt.Fprintf(stdout, "Output %q: %v (from %s)\n", t.Name, t.Shape, valueName(g, g.OutputValues()[k]))
		}
		fmt.Fprintln(stdout)
	} else {
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
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if dag {
		fmt.Fprintln(tw, "Layer (type)\tOutput Shape\tParam #\tInputs\tKernel\t")
		fmt.Fprintln(tw, "------------\t------------\t-------\t------\t------\t")
	} else {
		fmt.Fprintln(tw, "Layer (type)\tOutput Shape\tParam #\tKernel\t")
		fmt.Fprintln(tw, "------------\t------------\t-------\t------\t")
	}
	kernels := m.Kernels()
	for i := 0; i < g.Len(); i++ {
		li := g.Layer(i).LayerInfo()
		if dag {
			var ins []string
			for _, v := range g.NodeInputs(i) {
				ins = append(ins, valueName(g, v))
			}
			fmt.Fprintf(tw, "#%d %s (%s)\t%v\t%s\t%s\t%s\t\n", i, li.Name, li.Class, g.OutShape(i), commas(layers.ParamCount(g.Layer(i))), strings.Join(ins, ", "), kernels[i])
			continue
		}
		fmt.Fprintf(tw, "%s (%s)\t%v\t%s\t%s\t\n", li.Name, li.Class, g.OutShape(i), commas(layers.ParamCount(g.Layer(i))), kernels[i])
	}
	tw.Flush()
	fmt.Fprintln(stdout, strings.Repeat("-", 60))
	fmt.Fprintf(stdout, "Total params: %s (%s)\n", commas(g.Params()), bytesize.String(4*g.Params()))
	fmt.Fprintf(stdout, "FLOPs per inference: %s\n", commas(g.FLOPs()))
	limit := "none"
	if m.ArenaLimit() >= 0 {
		limit = bytesize.String(m.ArenaLimit())
	}
	fmt.Fprintf(stdout, "Arena: %s per execution state (batch %d), limit %s (--max-arena)\n", bytesize.String(m.ArenaBytes()), *batch, limit)
	fmt.Fprintf(stdout, "Kernel path: %s\nCPU: %s\n", m.ISA(), asm.Features())
	fmt.Fprintf(stdout, "Fingerprint: highwayhash128:%s\n", g.Fingerprint())
	if l.stored > 0 {
		fmt.Fprintf(stdout, "Stored samples: %d (run 'kinfer verify %s')\n", l.stored, pos[0])
	}
	return nil
}

// valueName names a value for the DAG listing: "#i name" for node i's output, the input's
// name for a graph input (node numbers disambiguate a layer called more than once).
func valueName(g *layers.Graph, v layers.Value) string {
	if int(v) < g.NumInputs() {
		return "input:" + g.Inputs()[v].Name
	}
	i := int(v) - g.NumInputs()
	return fmt.Sprintf("#%d %s", i, g.Layer(i).LayerInfo().Name)
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
