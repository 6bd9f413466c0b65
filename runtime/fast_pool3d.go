package runtime

import (
	"reflect"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastPool3D runs MaxPooling3D / AveragePooling3D over NDHWC input through the
// tap-list kernels (asm.PoolTaps): the compile lists every output voxel's in-bounds
// tap offsets in the reference's order (window depth, rows, columns) with 1/count for
// average pooling, and each sample's whole map is one call, vectorized over channels
// where the path has the kernels and bit for bit as layers.Pool3D.
type fastPool3D struct {
	l       *layers.Pool3D
	isa     asm.ISA
	in, out int // floats per sample
	tab     *asm.PoolTaps
}

func newFastPool3D(l *layers.Pool3D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if len(in) != 4 {
		return compiled{}, false
	}
	d, h, w, c := in[0], in[1], in[2], in[3]
	od, oh, ow, pf, pt, pl, err := l.Geometry3D(d, h, w)
	if err != nil {
		return compiled{}, false
	}
	zs := tapRanges(od, d, l.KD, l.SD, l.DD, pf)
	ys := tapRanges(oh, h, l.KH, l.SH, l.DH, pt)
	xs := tapRanges(ow, w, l.KW, l.SW, l.DW, pl)
	// the tap count is the product of the per-axis counts: bounded before allocating
	n := 1
	for _, rs := range [][]tapRange{zs, ys, xs} {
		s := 0
		for _, r := range rs {
			s += r.hi - r.lo
		}
		if s > 0 && n > maxPoolTaps/s {
			return compiled{}, false
		}
		n *= s
	}
	nvox := od * oh * ow
	offs := make([]int, 0, n)
	ptr := make([]int, 1, nvox+1)
	var scale []float32
	if !l.Max {
		scale = make([]float32, 0, nvox)
	}
	for _, rz := range zs {
		for _, ry := range ys {
			for _, rx := range xs {
				for kz := rz.lo; kz < rz.hi; kz++ {
					for ky := ry.lo; ky < ry.hi; ky++ {
						row := ((rz.start+kz*l.DD)*h + ry.start + ky*l.DH) * w
						for kx := rx.lo; kx < rx.hi; kx++ {
							offs = append(offs, (row+rx.start+kx*l.DW)*c)
						}
					}
				}
				ptr = append(ptr, len(offs))
				if !l.Max {
					cnt := (rz.hi - rz.lo) * (ry.hi - ry.lo) * (rx.hi - rx.lo)
					if l.CountIncludePad {
						cnt = l.Taps()
					}
					scale = append(scale, 1/float32(max(cnt, 1)))
				}
			}
		}
	}
	k := &fastPool3D{l: l, isa: isa, in: d * h * w * c, out: nvox * c, tab: asm.NewPoolTaps(offs, ptr, scale, c)}
	name := "avgpool3d csr/" + isa.String()
	if l.Max {
		name = "maxpool3d csr/" + isa.String()
	}
	return compiled{k: k, name: name}, true
}

func (k *fastPool3D) run(dst, src, _ []float32, batch int) {
	for b := 0; b < batch; b++ {
		y, x := dst[b*k.out:(b+1)*k.out], src[b*k.in:(b+1)*k.in]
		if k.l.Max {
			k.tab.Max(k.isa, y, x)
		} else {
			k.tab.Avg(k.isa, y, x)
		}
	}
}

// regConv3D registers the 3-D convolution and pooling kernels (one line in kernels()).
func regConv3D(t map[reflect.Type][]kernelEntry) {
	reg(t, func(l *layers.Conv3D, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastConv3D(l, in, isa)
	})
	reg(t, func(l *layers.Pool3D, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastPool3D(l, in, isa)
	})
	reg(t, func(l *layers.GlobalPool3D, in, _ layers.Shape, _ asm.ISA, _ int) (compiled, bool) {
		if len(in) != 4 {
			return compiled{}, false
		}
		name := "globalavgpool3d go"
		if l.Max {
			name = "globalmaxpool3d go"
		}
		g := &layers.GlobalPool2D{Info: l.Info, Max: l.Max}
		return compiled{k: &fastGlobalPool{l: g, hw: in[0] * in[1] * in[2], c: in[3]}, name: name}, true
	})
}
