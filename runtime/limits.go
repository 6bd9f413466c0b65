package runtime

import (
	"fmt"

	"github.com/kinfer/kinfer/internal/bytesize"
	"github.com/kinfer/kinfer/layers"
)

// DefaultMaxArenaBytes is the arena limit when Options.MaxArenaBytes is 0: 4 GiB for
// the arenas one RunInto call uses (one execution state, or Threads of them). Real
// models fit with room to spare at the default MaxBatch of 64: the measured and
// computed figures are in docs/RATIONALE.md ("Memory limits").
const DefaultMaxArenaBytes int64 = 4 << 30

// arenaLimit is the limit in bytes that opt asks for, or -1 for none.
func arenaLimit(opt Options) int64 {
	switch {
	case opt.MaxArenaBytes == 0:
		return DefaultMaxArenaBytes
	case opt.MaxArenaBytes < 0:
		return -1
	}
	return opt.MaxArenaBytes
}

// tooLarge is the error for a plan of need bytes over limit.
func tooLarge(what string, need, limit int64, mb, threads int) error {
	per := ""
	if threads > 1 {
		per = fmt.Sprintf(" x %d threads", threads)
	}
	return fmt.Errorf("runtime: %w: %s needs %s at MaxBatch %d%s, over the arena limit of %s "+
		"(lower Options.MaxBatch, or raise Options.MaxArenaBytes; kinfer: --batch, --max-arena)",
		layers.ErrTooLarge, what, bytesize.String(need), mb, per, bytesize.String(limit))
}

// checkGraph refuses, before anything is compiled, a graph whose arena must exceed
// the limit: every step's input and output are live together (unless the step may run
// in place), so the largest such pair times MaxBatch bounds the plan from below. It
// runs first because compiling a layer builds tables sized by its tensors (permute
// row offsets, pooling taps), which a huge claimed shape would make huge.
func checkGraph(g *layers.Graph, opt Options) error {
	limit := arenaLimit(opt)
	if limit < 0 {
		return nil
	}
	mb := opt.MaxBatch
	if mb == 0 {
		mb = DefaultMaxBatch
	}
	threads := max(opt.Threads, 1)
	for i := 0; i < g.Len(); i++ {
		var in int64
		for _, s := range g.InShapes(i) {
			in += int64(s.Size())
		}
		out := int64(g.OutShape(i).Size())
		need := in + out
		switch l := g.Layer(i).(type) {
		case *layers.Identity, *layers.Reshape, *layers.Affine, *layers.ActivationLayer:
			need = max(in, out)
		case layers.InPlacer:
			if l.InPlace() {
				need = max(in, out)
			}
		}
		// float32s, for mb samples, in each of threads states; no product overflows:
		// shapes are bounded by layers.MaxElements, mb by 1<<16, threads by 1024.
		if bytes := 4 * need * int64(mb) * int64(threads); bytes > limit {
			li := g.Layer(i).LayerInfo()
			return tooLarge(fmt.Sprintf("layer %q (%s), input %v and output %v,", li.Name, li.Class, g.InShape(i), g.OutShape(i)),
				bytes, limit, mb, threads)
		}
	}
	return nil
}

// checkArena refuses a compiled model whose planned arena is over the limit, so that
// no RunInto can fail to allocate its state.
func checkArena(m *Model, opt Options) error {
	limit := arenaLimit(opt)
	m.arenaLimit = limit
	if limit < 0 {
		return nil
	}
	if need := m.ArenaBytes() * int64(m.threads); need > limit {
		return tooLarge("the arena plan", need, limit, m.maxBatch, m.threads)
	}
	return nil
}

// ArenaLimit is the arena limit the model was checked against, in bytes (-1: none).
func (m *Model) ArenaLimit() int64 { return m.arenaLimit }
