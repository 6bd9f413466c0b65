package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Depthwise convolution, XNNPACK's "up-channel x taps" shape: per output pixel, the
// channels in tiles of up (32 on AVX2 in 4 ymm, 64 on AVX-512 in 4 zmm), each tile's
// accumulators starting from the packed bias and taking every tap of the window's
// in-bounds rectangle (rows, then columns) as one multiply and one add (not an FMA: the
// sums are layers.Conv2D's, operation for operation), then the lo/hi clamp in the store.
// A 16-channel tile and a masked tail follow. The caller gives one segment of output
// pixels whose in-bounds taps are the same rectangle (a row's interior, or one border
// pixel): src is the first pixel's first in-bounds tap, pixels pixStride bytes apart.
//
// Packed weights: per block of 16 channels, 16 bias values then the KH*KW taps' 16
// weights each (zero-padded past c); blocks bs bytes apart; the rectangle's first tap
// is tapOff bytes into a block, its rows wRowStep bytes apart after the nkx taps'
// 64 bytes each. rowStep is the input's step from one tap row's end to the next row.
const dwSig = "func(dst, src, w *float32, npix, c, pixStride, nky, nkx, rowStep, colStride, tapOff, wRowStep, bs int, lo, hi float32)"

func dwconvKernel(name string, wide bool) {
	TEXT(name, NOSPLIT, dwSig)
	Doc(name + ": one segment of a depthwise convolution's output pixels (see _gen/dwconv.go).")
	vb := 32 // vector bytes
	vec := YMM
	if wide {
		vb, vec = 64, ZMM
	}
	pd, pp, np := GP64(), GP64(), GP64()
	Load(Param("dst"), pd)
	Load(Param("src"), pp)
	Load(Param("npix"), np)
	cs, bs := GP64(), GP64()
	Load(Param("colStride"), cs)
	Load(Param("bs"), bs)
	lo, hi := vec(), vec()
	VBROADCASTSS(pmem("lo"), lo)
	VBROADCASTSS(pmem("hi"), hi)
	var bs3 Register
	if wide {
		bs3 = GP64()
		LEAQ(Mem{Base: bs, Index: bs, Scale: 2}, bs3)
	}
	ps, pw, i := GP64(), GP64(), GP64()
	px, pt, ca, cb := GP64(), GP64(), GP64(), GP64()
	var mk VecVirtual // AVX2 tail masks (two vectors)
	var mk2 VecVirtual
	tmask := GP64()
	if !wide {
		mk, mk2 = YMM(), YMM()
	}

	// wmem is vector v's weights (or bias) at base: block v*vb/64, offset within it.
	wmem := func(base Register, v int) Mem {
		blk, off := v*vb/64, v*vb%64
		switch blk {
		case 0:
			return Mem{Base: base, Disp: off}
		case 1:
			return Mem{Base: base, Index: bs, Scale: 1, Disp: off}
		case 2:
			return Mem{Base: base, Index: bs, Scale: 2, Disp: off}
		}
		return Mem{Base: base, Index: bs3, Scale: 1, Disp: off}
	}
	// tile emits one channel tile of nv vectors; masked: the tail (AVX2: mk, mk2 for
	// vectors 0 and 1; AVX-512: K1 for vector 0).
	tile := func(sfx string, nv int, masked bool) {
		acc := make([]VecVirtual, nv)
		for v := range acc {
			acc[v] = vec()
			VMOVUPS(wmem(pw, v), acc[v])
		}
		MOVQ(ps, px)
		MOVQ(pw, pt)
		ADDQ(pmem("tapOff"), pt)
		Load(Param("nky"), ca)
		Label("dw_row" + sfx)
		Load(Param("nkx"), cb)
		Label("dw_col" + sfx)
		for v := 0; v < nv; v++ {
			wv, x := vec(), vec()
			VMOVUPS(wmem(pt, v), wv)
			xm := Mem{Base: px, Disp: v * vb}
			switch {
			case masked && !wide:
				m := mk
				if v == 1 {
					m = mk2
				}
				VMASKMOVPS(xm, m, x)
				VMULPS(x, wv, x)
			case masked:
				VMOVUPS_Z(xm, K1, x)
				VMULPS(x, wv, x)
			default:
				VMULPS(xm, wv, x)
			}
			VADDPS(x, acc[v], acc[v])
		}
		ADDQ(cs, px)
		ADDQ(U8(64), pt)
		DECQ(cb)
		JNZ(LabelRef("dw_col" + sfx))
		ADDQ(pmem("rowStep"), px)
		ADDQ(pmem("wRowStep"), pt)
		DECQ(ca)
		JNZ(LabelRef("dw_row" + sfx))
		for v := 0; v < nv; v++ {
			VMAXPS(acc[v], lo, acc[v])
			VMINPS(acc[v], hi, acc[v])
			dm := Mem{Base: pd, Disp: v * vb}
			switch {
			case masked && !wide:
				m := mk
				if v == 1 {
					m = mk2
				}
				VMASKMOVPS(acc[v], m, dm)
			case masked:
				VMOVUPS(acc[v], K1, dm)
			default:
				VMOVUPS(acc[v], dm)
			}
		}
	}
	up := 4 * vb / 4 // channels in the main tile
	Label("dw_pix")
	TESTQ(np, np)
	JZ(LabelRef("dw_done"))
	MOVQ(pp, ps)
	Load(Param("w"), pw)
	Load(Param("c"), i)
	// main tile
	Label("dw_up")
	CMPQ(i, U8(up))
	JL(LabelRef("dw_16"))
	tile("_up", 4, false)
	ADDQ(U32(4*vb), ps)
	ADDQ(U32(4*vb), pd)
	if wide {
		LEAQ(Mem{Base: pw, Index: bs, Scale: 4}, pw)
	} else {
		LEAQ(Mem{Base: pw, Index: bs, Scale: 2}, pw)
	}
	SUBQ(U8(up), i)
	JMP(LabelRef("dw_up"))
	if wide {
		// 32 channels (two blocks) at most once: two chains rather than two single ones
		Label("dw_32")
		CMPQ(i, U8(32))
		JL(LabelRef("dw_16"))
		tile("_32", 2, false)
		ADDQ(U8(128), ps)
		ADDQ(U8(128), pd)
		LEAQ(Mem{Base: pw, Index: bs, Scale: 2}, pw)
		SUBQ(U8(32), i)
	}
	// 16-channel tile (one block)
	Label("dw_16")
	CMPQ(i, U8(16))
	JL(LabelRef("dw_tail"))
	tile("_16", 64/vb, false)
	ADDQ(U8(64), ps)
	ADDQ(U8(64), pd)
	ADDQ(bs, pw)
	SUBQ(U8(16), i)
	JMP(LabelRef("dw_16"))
	// masked tail: 1..15 channels
	Label("dw_tail")
	TESTQ(i, i)
	JZ(LabelRef("dw_next"))
	if wide {
		MOVL(U32(0xffff), tmask.As32())
		BZHIL(i.As32(), tmask.As32(), tmask.As32())
		KMOVW(tmask.As32(), K1)
	} else {
		// tailmask holds 16 all-ones words then 16 zeros: lane j of vector v is on
		// when 8v+j < i
		LEAQ(dwTailMask, tmask)
		NEGQ(i)
		VMOVUPS(Mem{Base: tmask, Index: i, Scale: 4, Disp: 64}, mk)
		VMOVUPS(Mem{Base: tmask, Index: i, Scale: 4, Disp: 96}, mk2)
		NEGQ(i)
	}
	tile("_tail", 64/vb, true)
	// the pointers need no update: the tail ends the pixel's channels
	MOVQ(i, tmask)
	SHLQ(U8(2), tmask)
	ADDQ(tmask, pd)
	Label("dw_next")
	ADDQ(pmem("pixStride"), pp)
	DECQ(np)
	JMP(LabelRef("dw_pix"))
	Label("dw_done")
	VZEROUPPER()
	RET()
}

var dwTailMask Mem

func dwconvKernels(wide bool) {
	if !wide {
		dwTailMask = GLOBL("dw_tailmask", RODATA|NOPTR)
		for j := 0; j < 32; j++ {
			v := uint32(0)
			if j < 16 {
				v = 0xffffffff
			}
			DATA(4*j, U32(v))
		}
		dwconvKernel("dwconvMinmaxUp32AVX2", false)
		return
	}
	dwconvKernel("dwconvMinmaxUp64AVX512", true)
}

// pmem is a parameter's stack slot, as a memory operand.
func pmem(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(fmt.Sprintf("param %s: %v", name, err))
	}
	return b.Addr
}
