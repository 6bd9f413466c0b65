package runtime

import "github.com/kinfer/kinfer/runtime/asm"

// poolPart is one part of a pooling step split across a team: output rows [oy0, oy1)
// and, on the tap-list path, those rows' own tap table.
type poolPart struct {
	oy0, oy1 int
	tab      *asm.PoolTaps
}

// forTeam splits the output rows into two parts per worker (a helper that joins late
// still takes a share); each part computes exactly the pixels, in the order, the whole
// map does, so the split changes no bit.
func (k *fastPool) forTeam(workers, _, sc int) (parKernel, int) {
	q := *k
	n := min(k.oh, 2*workers)
	q.parts = make([]poolPart, 0, n)
	for i := 0; i < n; i++ {
		lo, hi := span(k.oh, n, i, 1)
		if hi <= lo {
			continue
		}
		p := poolPart{oy0: lo, oy1: hi}
		if k.tab != nil {
			p.tab = k.buildTaps(lo, hi)
		}
		q.parts = append(q.parts, p)
	}
	return &q, sc
}

// runPar runs every (sample, part) as a task; small steps run on the caller.
func (k *fastPool) runPar(t *team, dst, src, scratch []float32, batch int) {
	work := batch * k.oh * k.ow * k.c * k.l.KH * k.l.KW
	if len(k.parts) < 2 || work < parMinFLOPs {
		k.run(dst, src, scratch, batch)
		return
	}
	t.runTasks(k, batch*len(k.parts), dst, src, nil, batch, 0, 0)
}

// parTask computes part i%parts of sample i/parts.
func (k *fastPool) parTask(r *region, i, _ int) {
	b, p := i/len(k.parts), k.parts[i%len(k.parts)]
	in, out := k.h*k.w*k.c, k.oh*k.ow*k.c
	k.rowsOf(r.dst[b*out:(b+1)*out], r.src[b*in:(b+1)*in], p.oy0, p.oy1, p.tab)
}
