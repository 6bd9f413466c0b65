package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// probes emits the loops BenchmarkPeak uses to measure the core clock (a chain of
// dependent adds, one cycle each) and the FMA throughput roof of each vector width.
func probes() {
	TEXT("probeAddChain", NOSPLIT, "func(n int) int")
	Doc("probeAddChain runs n iterations of 16 dependent 1-cycle ADDQ: 16*n cycles.")
	n := GP64()
	Load(Param("n"), n)
	x := GP64()
	XORQ(x, x)
	Label("addloop")
	for i := 0; i < 16; i++ {
		ADDQ(n, x)
	}
	DECQ(n)
	JNZ(LabelRef("addloop"))
	Store(x, ReturnIndex(0))
	RET()

	fma := func(name string, zmm bool, chains int) {
		TEXT(name, NOSPLIT, "func(n int)")
		Doc(name + " runs n iterations of independent FMA chains (throughput roof).")
		n := GP64()
		Load(Param("n"), n)
		acc := make([]VecVirtual, chains)
		for i := range acc {
			if zmm {
				acc[i] = ZMM()
			} else {
				acc[i] = YMM()
			}
			VXORPS(acc[i], acc[i], acc[i])
		}
		l := "fmaloop_" + name
		Label(l)
		for i := range acc {
			VFMADD231PS(acc[i], acc[i], acc[i])
		}
		DECQ(n)
		JNZ(LabelRef(l))
		VZEROUPPER()
		RET()
	}
	fma("probeFMAAVX2", false, 12)
	fma("probeFMAAVX512", true, 16)
}
