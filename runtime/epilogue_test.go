package runtime

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// resCase is a residual block act(producer(x) + skip) with the skip of the given shape.
type resCase struct {
	name   string
	in     layers.Shape
	kh, sh int // producer: 0 = Dense, else a KxK Conv2D of stride sh ("same" padding)
	cout   int
	act    layers.Activation
	skip   layers.Shape // nil: the producer's output shape (fuses); else a broadcast shape
	fuses  bool
	kernel string // a substring of the fused step's kernel name on vector paths
}

func resCases() []resCase {
	relu6 := layers.Activation{Kind: layers.ReLU, Max: 6}
	clip := layers.Activation{Kind: layers.Clip, Alpha: -0.5, Beta: 0.75}
	swish := layers.Activation{Kind: layers.Swish}
	return []resCase{
		// 1x1 (plain GEMM): rows and columns off the tiles, more than one row panel
		{"pw 7x5x8->13 relu", layers.Shape{7, 5, 8}, 1, 1, 13, layers.ActReLU, nil, true, "1x1"},
		{"pw 40x31x16->24 linear", layers.Shape{40, 31, 16}, 1, 1, 24, layers.ActLinear, nil, true, "1x1"},
		{"pw 9x9x32->40 relu6", layers.Shape{9, 9, 32}, 1, 1, 40, relu6, nil, true, "1x1"},
		{"pw 3x3x16->5 clip", layers.Shape{3, 3, 16}, 1, 1, 5, clip, nil, true, "1x1"},
		{"pw 6x6x8->33 swish", layers.Shape{6, 6, 8}, 1, 1, 33, swish, nil, true, "1x1"},
		// im2col (gather and plain) and a strided 1x1 projection
		{"3x3s2 17x13x8->24 relu", layers.Shape{17, 13, 8}, 3, 2, 24, layers.ActReLU, nil, true, "im2col"},
		{"1x1s2 16x16x64->128 relu", layers.Shape{16, 16, 64}, 1, 2, 128, layers.ActReLU, nil, true, "im2col"},
		{"3x3 5x5x3->7 relu", layers.Shape{5, 5, 3}, 3, 1, 7, layers.ActReLU, nil, true, "im2col gather"},
		{"3x3s2 75x75x48->16 relu (no gather)", layers.Shape{75, 75, 48}, 3, 2, 16, layers.ActReLU, nil, true, "im2col +"},
		// Winograd: F(4x4) direct (map a multiple of 4) and through the padded buffer,
		// F(2x2) on a small map
		{"wino4 16x12x16->32 relu", layers.Shape{16, 12, 16}, 3, 1, 32, layers.ActReLU, nil, true, "winograd F(4x4"},
		{"wino4 8x8x16->24 relu (in the transform)", layers.Shape{8, 8, 16}, 3, 1, 24, layers.ActReLU, nil, true, "winograd F(4x4"},
		{"wino4 12x8x16->16 swish", layers.Shape{12, 8, 16}, 3, 1, 16, swish, nil, true, "winograd F(4x4"},
		{"wino4 11x9x16->24 relu6", layers.Shape{11, 9, 16}, 3, 1, 24, relu6, nil, true, "winograd F(4x4"},
		{"wino2 4x4x32->48 linear", layers.Shape{4, 4, 32}, 3, 1, 48, layers.ActLinear, nil, true, "winograd F(2x2"},
		{"wino2 3x5x16->16 swish", layers.Shape{3, 5, 16}, 3, 1, 16, swish, nil, true, "winograd F(2x2"},
		// Dense
		{"dense 37->45 relu", layers.Shape{37}, 0, 0, 45, layers.ActReLU, nil, true, "dense"},
		{"dense 8->7 relu6", layers.Shape{8}, 0, 0, 7, relu6, nil, true, "dense"},
		// broadcast skips: the Add must stay a step of its own
		{"pw bcast channels", layers.Shape{6, 5, 8}, 1, 1, 16, layers.ActReLU, layers.Shape{16}, false, ""},
		{"pw bcast 1x1xC", layers.Shape{6, 5, 8}, 1, 1, 16, layers.ActReLU, layers.Shape{1, 1, 16}, false, ""},
		{"wino bcast row", layers.Shape{8, 8, 16}, 3, 1, 16, layers.ActReLU, layers.Shape{1, 8, 16}, false, ""},
	}
}

// build makes the case's graph: x -> producer (linear) -> Add(skip) -> act, the skip
// either a second input (broadcast cases) or a value of the producer's shape computed
// from x (a 1x1 convolution or Dense), so the Add's other operand comes before it.
func (c resCase) build(t testing.TB, r *rand.Rand) *layers.Graph {
	b := layers.NewBuilder()
	x := b.Input("x", c.in, layers.Float32)
	cin := c.in[len(c.in)-1]
	var prod layers.Layer
	var skipL layers.Layer
	if c.kh == 0 {
		prod = &layers.Dense{Info: info("p", "Dense"), In: cin, Units: c.cout, W: randSlice(r, cin*c.cout, 0.3), B: randSlice(r, c.cout, 0.5), Act: layers.ActLinear}
		skipL = &layers.Dense{Info: info("s", "Dense"), In: cin, Units: c.cout, W: randSlice(r, cin*c.cout, 0.3), B: randSlice(r, c.cout, 0.5), Act: layers.ActLinear}
	} else {
		prod = &layers.Conv2D{Info: info("p", "Conv2D"), Window: layers.Window{KH: c.kh, KW: c.kh, SH: c.sh, SW: c.sh, DH: 1, DW: 1, Pad: layers.PadSame},
			In: cin, Filters: c.cout, Groups: 1, W: randSlice(r, c.kh*c.kh*cin*c.cout, 0.3), B: randSlice(r, c.cout, 0.5), Act: layers.ActLinear}
		skipL = &layers.Conv2D{Info: info("s", "Conv2D"), Window: layers.Window{KH: 1, KW: 1, SH: c.sh, SW: c.sh, DH: 1, DW: 1, Pad: layers.PadSame},
			In: cin, Filters: c.cout, Groups: 1, W: randSlice(r, cin*c.cout, 0.3), B: randSlice(r, c.cout, 0.5), Act: layers.ActLinear}
	}
	var skip layers.Value
	if c.skip == nil {
		skip = b.Node(skipL, x)
	} else {
		skip = b.Input("skip", c.skip, layers.Float32)
	}
	p := b.Node(prod, x)
	add := b.Node(&layers.Merge{Info: info("add", "Add"), Op: layers.MergeAdd}, skip, p)
	out := add
	if !c.act.IsLinear() {
		out = b.Node(&layers.ActivationLayer{Info: info("act", "Activation"), Act: c.act}, add)
	}
	g, err := b.Build([]layers.Value{out}, nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return g
}

// TestResidualEpilogue: a residual Add (and the activation after it) runs as the
// producer's output stage where the shapes match, and not for broadcast shapes; on
// every path the fused step gives the unfused graph's values exactly (the same GEMM or
// Winograd sums, then the same float32 add and clamp) and the reference's within
// 1e-5 + 1e-4|want|, at batch 1, 2 and 5.
func TestResidualEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	saved := graphPasses
	defer func() { graphPasses = saved }()
	for _, c := range resCases() {
		g := c.build(t, r)
		for _, isa := range isas() {
			graphPasses = saved
			fused, err := Compile(g, Options{ISA: isa.String(), MaxBatch: 5})
			if err != nil {
				t.Fatal(err)
			}
			graphPasses = []graphPass{foldLinear, fuseLSTMStacks}
			plain, err := Compile(g, Options{ISA: isa.String(), MaxBatch: 5})
			if err != nil {
				t.Fatal(err)
			}
			ks := fused.Kernels()
			addFused := strings.HasPrefix(ks[g.Len()-1], "fused into") || (c.act.IsLinear() && strings.HasPrefix(ks[g.Len()-1], "fused into"))
			for i := 0; i < g.Len(); i++ {
				if g.Layer(i).LayerInfo().Name == "add" {
					addFused = strings.HasPrefix(ks[i], "fused into")
				}
			}
			if addFused != c.fuses {
				t.Errorf("%s isa=%v: add fused %v, want %v (kernels %q)", c.name, isa, addFused, c.fuses, ks)
			}
			if c.fuses && isa.String() != "generic" {
				pk := ""
				for i := 0; i < g.Len(); i++ {
					if g.Layer(i).LayerInfo().Name == "p" {
						pk = ks[i]
					}
				}
				want := c.kernel
				if strings.HasPrefix(want, "winograd") && !asm.WinogradF2x2Vector(isa) {
					want = "im2col" // no vector Winograd on this path (NEON)
				}
				if !strings.Contains(pk, want) || !strings.Contains(pk, "fused epilogue") {
					t.Errorf("%s isa=%v: producer kernel %q, want %q with the fused epilogue", c.name, isa, pk, want)
				}
			}
			for _, batch := range []int{1, 2, 5} {
				xs := randInputs(r, g, batch)
				want, err := g.ReferenceN(xs, batch)
				if err != nil {
					t.Fatal(err)
				}
				got, err := fused.RunMulti(xs, batch)
				if err != nil {
					t.Fatal(err)
				}
				base, err := plain.RunMulti(xs, batch)
				if err != nil {
					t.Fatal(err)
				}
				if err := closeTo(got[0], want[0], 1e-5, 1e-4); err != nil {
					t.Errorf("%s isa=%v batch=%d vs reference: %v", c.name, isa, batch, err)
				}
				for i := range got[0] {
					if got[0][i] != base[0][i] && !(math.IsNaN(float64(got[0][i])) && math.IsNaN(float64(base[0][i]))) {
						t.Errorf("%s isa=%v batch=%d: fused %g, unfused %g at %d", c.name, isa, batch, got[0][i], base[0][i], i)
						break
					}
				}
			}
		}
	}
}
