package runtime

// Kernel passes over the int8 convs: a 2x2 max pool fused into the conv before it, and
// chains of convs that pass their quantized values as bytes.

// fuseQConvPool fuses a 2x2 stride-2 max pool without padding into the int8 conv
// before it (the last of a chain): the same bits, as the max commutes with the
// monotone output stage (per-column corr, positive scale, clamp, rounding).
func fuseQConvPool(prev, c compiled) (compiled, bool) {
	head, ok := prev.k.(*fastQConv)
	p, okp := c.k.(*fastPool)
	if !ok || !okp {
		return compiled{}, false
	}
	k := head.last()
	if k.pool || !k.q.PoolFused() || !p.l.Max || p.h != k.oh || p.w != k.ow || p.c != k.n ||
		p.oh != k.oh/2 || p.ow != k.ow/2 || p.oh == 0 || p.ow == 0 {
		return compiled{}, false
	}
	pw := p.l.Window
	if pw.KH != 2 || pw.KW != 2 || pw.SH != 2 || pw.SW != 2 || pw.DH != 1 || pw.DW != 1 || p.rows[0].start != 0 || p.cols[0].start != 0 {
		return compiled{}, false
	}
	f := head.clone()
	f.last().setRows(true)
	return compiled{k: f, name: prev.name + " + maxpool 2x2", scratchLen: prev.scratchLen}, true
}

// fuseQConvChain runs an int8 conv c in the step of the int8 conv (chain) before it
// when the earlier one's output quantization is c's input quantization: the earlier
// conv then stores its requantized values as bytes straight into c's quantized plane,
// which are the bytes c would get by quantizing the dequantized floats (they lie on
// the grid: x = float32(q)*scale, and x/scale rounds back to q), so the float write,
// c's quantization pass and a step go away, with the same bits. Only where the GEMM
// path stores its A elements (asm.QGemm.BytesOut).
func fuseQConvChain(prev, c compiled) (compiled, bool) {
	head, ok := prev.k.(*fastQConv)
	n, okc := c.k.(*fastQConv)
	if !ok || !okc || n.next != nil {
		return compiled{}, false
	}
	k := head.last()
	oh, ow := k.oh, k.ow
	if k.pool {
		oh, ow = k.uh/2, k.uw/2
	}
	if !k.q.BytesOut() || !k.q.SamePath(n.q) || k.out != n.in || n.h != oh || n.w != ow || n.c != k.n {
		return compiled{}, false
	}
	f := head.clone()
	t := f.last()
	t.next, t.nextOff = n, 4*prev.scratchLen-f.offsetOf(t)
	return compiled{k: f, name: prev.name + " -> int8 conv (bytes between)", scratchLen: prev.scratchLen + c.scratchLen}, true
}

// clone copies the chain from k (the convs a fusion changes are copies).
func (k *fastQConv) clone() *fastQConv {
	f := *k
	if f.next != nil {
		f.next = f.next.clone()
	}
	return &f
}

func (k *fastQConv) last() *fastQConv {
	for k.next != nil {
		k = k.next
	}
	return k
}

// offsetOf is the byte offset of t's scratch region in k's.
func (k *fastQConv) offsetOf(t *fastQConv) int {
	off := 0
	for ; k != t; k = k.next {
		off += k.nextOff
	}
	return off
}

func (k *fastQConv) run(dst, src, scratch []float32, batch int) {
	buf := bytesOf(scratch)
	in, out := k.h*k.w*k.c, k.last().outLen()
	for b := 0; b < batch; b++ {
		k.q.QuantizeFlat(buf[:k.plane], src[b*in:(b+1)*in], k.inScale, k.za)
		for c, sc := k, buf; ; c, sc = c.next, sc[c.nextOff:] {
			lda, rows := c.q.LDA(), c.uh*c.uw
			plane, a := sc[:c.plane], sc[c.plane:c.plane+rows*lda]
			c.im2col(a, plane, c.za)
			if c.next != nil {
				np := sc[c.nextOff:][:c.next.plane]
				zo := c.out.ZP - c.out.Type.Lo
				if c.pool {
					c.q.RequantPoolBytes(rows, a, np, c.n, c.corr, c.mult, c.lo, c.hi, zo)
				} else {
					c.q.RequantBytes(rows, a, np, c.n, c.corr, c.mult, c.lo, c.hi, zo)
				}
				continue
			}
			d := dst[b*out : (b+1)*out]
			if c.pool {
				c.q.RequantPool(rows, a, d, c.n, c.corr, c.mult, c.lo, c.hi, c.sy)
			} else {
				c.q.Requant(rows, a, d, c.n, c.corr, c.mult, c.lo, c.hi, c.sy)
			}
			break
		}
	}
}

// outLen is the floats of one sample's output.
func (k *fastQConv) outLen() int {
	if k.pool {
		return k.uh * k.uw / 4 * k.n
	}
	return k.oh * k.ow * k.n
}
