package runtime

import "sort"

// buffer is a tensor or scratch area live from step first to step last (inclusive).
type buffer struct {
	size        int // floats
	first, last int
	off         int // assigned offset in floats
}

// plan assigns arena offsets so that buffers live at the same time never overlap,
// placing the largest first at the lowest offset that fits (a greedy best-fit that is
// optimal for chains, where at most three buffers are live at once). It returns the
// arena length in floats.
func plan(bufs []buffer) int {
	order := make([]int, len(bufs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return bufs[order[a]].size > bufs[order[b]].size })
	var placed []int
	total := 0
	for _, i := range order {
		b := &bufs[i]
		size := roundUp(b.size)
		// collect conflicting intervals sorted by offset, then first-fit the gap
		var busy [][2]int
		for _, j := range placed {
			o := &bufs[j]
			if o.first <= b.last && b.first <= o.last {
				busy = append(busy, [2]int{o.off, o.off + roundUp(o.size)})
			}
		}
		sort.Slice(busy, func(a, c int) bool { return busy[a][0] < busy[c][0] })
		off := 0
		for _, r := range busy {
			if off+size <= r[0] {
				break
			}
			off = max(off, r[1])
		}
		b.off = off
		total = max(total, off+size)
		placed = append(placed, i)
	}
	return total
}

func roundUp(n int) int { return (n + arenaAlign - 1) / arenaAlign * arenaAlign }
