package runtime

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// TestFoldIntoNext: an affine folded into the Conv2D or Dense after it, and a Permute
// (with the views after it) folded into a Dense's kernel rows, give the unfused graph's
// reference outputs within rounding on every path, and the folds happen exactly where
// they are exact (not into a conv that pads its own input); a ZeroPadding2D folds into
// the valid or explicitly padded Conv2D (depthwise included) after it, as its padding.
func TestFoldIntoNext(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	info := func(name, class string) layers.Info { return layers.Info{Name: name, Class: class} }
	aff := func(c int) *layers.Affine {
		if c == 1 {
			return &layers.Affine{Info: info("a", "Rescaling"), Scale: []float32{0.7}, Shift: []float32{-0.3}}
		}
		return &layers.Affine{Info: info("a", "BatchNormalization"), Scale: rnd(r, c), Shift: rnd(r, c)}
	}
	conv := func(in, filters, groups int, w layers.Window) *layers.Conv2D {
		return &layers.Conv2D{Info: info("c", "Conv2D"), Window: w, In: in, Filters: filters, Groups: groups,
			W: rnd(r, w.KH*w.KW*in/groups*filters), B: rnd(r, filters), Act: layers.ActReLU}
	}
	valid := layers.Window{KH: 3, KW: 2, SH: 1, SW: 2, DH: 1, DW: 1, Pad: layers.PadValid}
	zeroPads := layers.Window{KH: 2, KW: 2, SH: 1, SW: 1, DH: 2, DW: 1, Pad: layers.PadExplicit}
	same := layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}
	explicit := layers.Window{KH: 3, KW: 2, SH: 2, SW: 1, DH: 1, DW: 2, Pad: layers.PadExplicit, Pads: [4]int{1, 0, 2, 1}}
	dw2 := layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadValid}
	pad := func(p [4]int) *layers.ZeroPad2D { return &layers.ZeroPad2D{Info: info("z", "ZeroPadding2D"), Pads: p} }
	dense := func(in, units int) *layers.Dense {
		return &layers.Dense{Info: info("d", "Dense"), In: in, Units: units, W: rnd(r, in*units), B: rnd(r, units), Act: layers.Activation{Kind: layers.Tanh}}
	}
	flat := func(n int) *layers.Reshape {
		return &layers.Reshape{Info: info("f", "Flatten"), Target: layers.Shape{n}}
	}
	drop := &layers.Identity{Info: info("x", "Dropout")}
	cases := []struct {
		name   string
		in     layers.Shape
		ls     []layers.Layer
		folded bool
	}{
		{"affine/conv groups 2", layers.Shape{7, 9, 4}, []layers.Layer{aff(4), conv(4, 6, 2, valid)}, true},
		{"scalar affine/conv explicit 0 pads", layers.Shape{6, 5, 3}, []layers.Layer{aff(1), conv(3, 5, 1, zeroPads)}, true},
		{"affine/dense", layers.Shape{3, 7}, []layers.Layer{aff(7), dense(7, 5)}, true},
		{"affine/conv same (pads its input): not folded", layers.Shape{6, 5, 3}, []layers.Layer{aff(3), conv(3, 4, 1, same)}, false},
		{"zero pad/conv valid", layers.Shape{6, 5, 3}, []layers.Layer{pad([4]int{1, 2, 0, 1}), conv(3, 5, 1, valid)}, true},
		{"zero pad/conv explicit pads", layers.Shape{6, 5, 3}, []layers.Layer{pad([4]int{0, 1, 2, 1}), conv(3, 4, 1, explicit)}, true},
		{"zero pad/depthwise stride 2", layers.Shape{9, 8, 16}, []layers.Layer{pad([4]int{0, 1, 0, 1}), conv(16, 16, 16, dw2)}, true},
		{"zero pad/conv same: not folded", layers.Shape{6, 5, 3}, []layers.Layer{pad([4]int{1, 1, 1, 1}), conv(3, 4, 1, same)}, false},
		{"permute/flatten/dense", layers.Shape{2, 3, 4}, []layers.Layer{&layers.Permute{Info: info("p", "Permute"), Perm: []int{2, 0, 1}}, flat(24), drop, dense(24, 5)}, true},
		{"rank-4 permute/flatten/dense", layers.Shape{2, 3, 2, 5}, []layers.Layer{&layers.Permute{Info: info("p", "Permute"), Perm: []int{3, 1, 0, 2}}, flat(60), dense(60, 3)}, true},
		{"permute/dense per row: not folded", layers.Shape{2, 3, 4}, []layers.Layer{&layers.Permute{Info: info("p", "Permute"), Perm: []int{1, 0, 2}}, dense(4, 3)}, false},
	}
	for _, c := range cases {
		g, err := layers.NewGraph(c.in, c.ls, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, isa := range isas() {
			m, err := Compile(g, Options{ISA: isa.String(), MaxBatch: 3})
			if err != nil {
				t.Fatalf("%s %v: %v", c.name, isa, err)
			}
			ks := m.Kernels()
			if got := strings.HasPrefix(ks[len(ks)-1], "fused into"); got != c.folded {
				t.Fatalf("%s %v: kernels %q, folded %v want %v", c.name, isa, ks, got, c.folded)
			}
			for _, batch := range []int{1, 3} {
				x := rnd(r, batch*c.in.Size())
				want, err := g.Reference(x, batch)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]float32, len(want))
				if err := m.RunInto(got, x, batch); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-5*(1+math.Abs(float64(want[i])))) {
						t.Fatalf("%s %v batch %d: out[%d] = %v, unfused reference %v", c.name, isa, batch, i, got[i], want[i])
					}
				}
			}
		}
	}
}
