package layers

import (
	"math"
	"testing"
)

// halfBits is an independent float32 -> float16 encoder (bit arithmetic, round to
// nearest even) used to check ToHalf.
func halfBits(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	e := int(b>>23&0xff) - 127
	m := b & 0x7fffff
	switch {
	case e == 128:
		if m != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case e > 15:
		return sign | 0x7c00
	case e >= -14:
		h := uint32(e+15)<<10 | m>>13
		rem := m & 0x1fff
		if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
			h++ // may carry into the exponent, up to infinity: still correct
		}
		return sign | uint16(h)
	case e >= -25:
		m |= 0x800000
		shift := uint(-e - 14 + 13)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && h&1 == 1 {
			h++
		}
		return sign | uint16(h)
	}
	return sign
}

func halfValue(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e, m := int(h>>10&0x1f), float64(h&0x3ff)
	switch e {
	case 31:
		if m != 0 {
			return math.NaN()
		}
		return s * math.Inf(1)
	case 0:
		return s * m * math.Ldexp(1, -24)
	}
	return s * (1 + m/1024) * math.Ldexp(1, e-15)
}

func TestToHalf(t *testing.T) {
	check := func(x float32) {
		got, want := ToHalf(x), halfValue(halfBits(x))
		if !(float64(got) == want || math.IsNaN(want) && got != got) {
			t.Fatalf("ToHalf(%g) = %g, want %g", x, got, want)
		}
	}
	for _, x := range []float32{0, 1, -1, 65504, 65519, 65520, 1e6, 6e-8, 3e-8, 2.98e-8, 6.1e-5, 1.0009765625, 1.00048828125, 1.00146484375, 2049, 2051, float32(math.Inf(-1))} {
		check(x)
		check(-x)
	}
	for b := uint32(0); b < 1<<32-1<<20; b += 1<<20 - 17 {
		check(math.Float32frombits(b))
	}
}
