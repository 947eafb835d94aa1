package nn

import "github.com/eas-go/eas/core/ir"

// poolLayer is max or average pooling without padding; the average divides
// by the window area.
type poolLayer struct {
	n             *Net
	id, in        int
	add           bool
	max           bool
	c, h, w, k, s int
	ho, wo        int
	arg           []int32 // max: index of the winner inside the input image, per output

	// A pass's operands, set before its parallelFor for the range
	// functions, method values made once in newPool (a closure capturing
	// locals would allocate on every call).
	x, y, dy, dx []float32
	fwdFn, bwdFn func(w, lo, hi int)
}

func newPool(n *Net, nd ir.Node, in ir.Shape, add bool) *poolLayer {
	l := &poolLayer{n: n, id: nd.ID, in: nd.Inputs[0], add: add, max: nd.Op == ir.OpMaxPool,
		c: in.C, h: in.H, w: in.W, k: nd.Kernel, s: nd.Stride, ho: nd.Out.H, wo: nd.Out.W}
	if l.max {
		l.arg = make([]int32, n.MaxBatch*nd.Out.Size())
	}
	l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
	return l
}

func (l *poolLayer) forward(bool) {
	n := l.n
	l.x, l.y = n.act[l.in], n.act[l.id]
	n.parallelFor(n.batch*l.c, l.fwdFn)
}

func (l *poolLayer) forwardRange(_, lo, hi int) {
	x, y := l.x, l.y
	inv := 1 / float32(l.k*l.k)
	for pl := lo; pl < hi; pl++ {
		src := x[pl*l.h*l.w : (pl+1)*l.h*l.w]
		dst := y[pl*l.ho*l.wo : (pl+1)*l.ho*l.wo]
		if l.max && l.k == 2 && l.s == 2 {
			l.max22(src, dst, l.arg[pl*l.ho*l.wo:(pl+1)*l.ho*l.wo])
			continue
		}
		for oy := 0; oy < l.ho; oy++ {
			for ox := 0; ox < l.wo; ox++ {
				base := oy*l.s*l.w + ox*l.s
				if l.max {
					best, bi := src[base], base
					for ki := 0; ki < l.k; ki++ {
						row := base + ki*l.w
						for kj := 0; kj < l.k; kj++ {
							v := src[row+kj]
							if v > best { // compiles to a conditional move
								bi = row + kj
							}
							best = max(best, v)
						}
					}
					dst[oy*l.wo+ox] = best
					l.arg[pl*l.ho*l.wo+oy*l.wo+ox] = int32(bi)
				} else {
					var s float32
					for ki := 0; ki < l.k; ki++ {
						for _, v := range src[base+ki*l.w : base+ki*l.w+l.k] {
							s += v
						}
					}
					dst[oy*l.wo+ox] = s * inv
				}
			}
		}
	}
}

func (l *poolLayer) backward() {
	n := l.n
	l.dy, l.dx = n.grad[l.id], n.grad[l.in]
	n.parallelFor(n.batch*l.c, l.bwdFn)
}

func (l *poolLayer) backwardRange(_, lo, hi int) {
	dy, dx := l.dy, l.dx
	inv := 1 / float32(l.k*l.k)
	for pl := lo; pl < hi; pl++ {
		d := dx[pl*l.h*l.w : (pl+1)*l.h*l.w]
		if !l.add {
			clear(d)
		}
		g := dy[pl*l.ho*l.wo : (pl+1)*l.ho*l.wo]
		if l.max {
			arg := l.arg[pl*l.ho*l.wo : (pl+1)*l.ho*l.wo]
			arg = arg[:len(g)]
			for o, v := range g {
				d[arg[o]] += v
			}
			continue
		}
		for o, v := range g {
			oy, ox := o/l.wo, o%l.wo
			base := oy*l.s*l.w + ox*l.s
			v *= inv
			for ki := 0; ki < l.k; ki++ {
				row := d[base+ki*l.w : base+ki*l.w+l.k]
				for j := range row {
					row[j] += v
				}
			}
		}
	}
}

// max22 is the common 2x2 stride-2 max pooling: the vector kernel on each
// row's multiple-of-8 prefix, scalar code on the rest.
func (l *poolLayer) max22(src, dst []float32, arg []int32) {
	w := l.w
	for oy := 0; oy < l.ho; oy++ {
		r0 := src[2*oy*w : 2*oy*w+2*l.wo]
		r1 := src[(2*oy+1)*w : (2*oy+1)*w+2*l.wo]
		d := dst[oy*l.wo : (oy+1)*l.wo]
		a := arg[oy*l.wo : (oy+1)*l.wo]
		n8 := 0
		if useSIMD {
			n8 = l.wo &^ 7
			if n8 > 0 {
				max22AVX2(&r0[0], &r1[0], &d[0], &a[0], n8, 2*oy*w, w, &pool22Ramp[0])
			}
		}
		max22Go(r0, r1, d, a, n8, 2*oy*w, w)
	}
}

// pool22Ramp is the input column offset of 8 consecutive outputs.
var pool22Ramp = [8]int32{0, 2, 4, 6, 8, 10, 12, 14}

// max22Go pools outputs [from, len(d)) of one row; i0 is the index of r0[0]
// in the image. Ties keep the earlier candidate. Written so the index
// updates compile to conditional moves: on random data the branches of an
// if/else chain mispredict about every other output, which made the 8x8
// maps (no vector prefix) cost as much as 16x16 ones.
func max22Go(r0, r1, d []float32, a []int32, from, i0, w int) {
	r0, r1 = r0[:2*len(d)], r1[:2*len(d)]
	for ox := from; ox < len(d); ox++ {
		i := int32(i0 + 2*ox)
		best, bi := r0[2*ox], i
		v := r0[2*ox+1]
		if v > best {
			bi = i + 1
		}
		best = max(best, v)
		v = r1[2*ox]
		if v > best {
			bi = i + int32(w)
		}
		best = max(best, v)
		v = r1[2*ox+1]
		if v > best {
			bi = i + int32(w) + 1
		}
		best = max(best, v)
		d[ox], a[ox] = best, bi
	}
}
