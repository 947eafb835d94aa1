package nn

import (
	"math"

	"github.com/eas-go/eas/core/ir"
)

// refForward is a naive float64 forward pass of g used as the reference for
// the engine's forward and (through finite differences) its backward. It
// takes the dropout mask from the engine's own hash so both drop the same units.
func refForward(n *Net, g *ir.Graph, p map[string][]float64, x []float64, b int, train bool) [][]float64 {
	act := make([][]float64, len(g.Nodes))
	act[0] = x
	for _, nd := range g.Nodes[1:] {
		in := g.Nodes[nd.Inputs[0]].Out
		src := act[nd.Inputs[0]]
		out := make([]float64, b*nd.Out.Size())
		switch nd.Op {
		case ir.OpConv:
			w := p[nd.Name+".weight"]
			bias := p[nd.Name+".bias"]
			for i := 0; i < b; i++ {
				for f := 0; f < nd.Filters; f++ {
					for oy := 0; oy < nd.Out.H; oy++ {
						for ox := 0; ox < nd.Out.W; ox++ {
							var s float64
							if bias != nil {
								s = bias[f]
							}
							for c := 0; c < in.C; c++ {
								for ki := 0; ki < nd.Kernel; ki++ {
									for kj := 0; kj < nd.Kernel; kj++ {
										iy, ix := oy*nd.Stride-nd.Pad+ki, ox*nd.Stride-nd.Pad+kj
										if iy < 0 || iy >= in.H || ix < 0 || ix >= in.W {
											continue
										}
										s += w[((f*in.C+c)*nd.Kernel+ki)*nd.Kernel+kj] * src[((i*in.C+c)*in.H+iy)*in.W+ix]
									}
								}
							}
							out[((i*nd.Filters+f)*nd.Out.H+oy)*nd.Out.W+ox] = s
						}
					}
				}
			}
		case ir.OpBN:
			gm, bt := p[nd.Name+".weight"], p[nd.Name+".bias"]
			rm, rv := p[nd.Name+".running_mean"], p[nd.Name+".running_var"]
			hw := in.H * in.W
			for c := 0; c < in.C; c++ {
				mean, vr := rm[c], rv[c]
				if train {
					mean, vr = 0, 0
					for i := 0; i < b; i++ {
						for j := 0; j < hw; j++ {
							mean += src[(i*in.C+c)*hw+j]
						}
					}
					mean /= float64(b * hw)
					for i := 0; i < b; i++ {
						for j := 0; j < hw; j++ {
							d := src[(i*in.C+c)*hw+j] - mean
							vr += d * d
						}
					}
					vr /= float64(b * hw)
				}
				for i := 0; i < b; i++ {
					for j := 0; j < hw; j++ {
						k := (i*in.C+c)*hw + j
						out[k] = (src[k]-mean)/math.Sqrt(vr+BNEps)*gm[c] + bt[c]
					}
				}
			}
		case ir.OpReLU:
			for k, v := range src {
				out[k] = math.Max(v, 0)
			}
		case ir.OpDropout:
			dl := n.layers[nd.ID].(*dropoutLayer)
			for k, v := range src {
				switch {
				case !train || nd.Rate == 0:
					out[k] = v
				case dl.keep(k):
					out[k] = v / (1 - nd.Rate)
				}
			}
		case ir.OpMaxPool, ir.OpAvgPool:
			for pl := 0; pl < b*in.C; pl++ {
				for oy := 0; oy < nd.Out.H; oy++ {
					for ox := 0; ox < nd.Out.W; ox++ {
						best, sum := math.Inf(-1), 0.0
						for ki := 0; ki < nd.Kernel; ki++ {
							for kj := 0; kj < nd.Kernel; kj++ {
								v := src[pl*in.H*in.W+(oy*nd.Stride+ki)*in.W+ox*nd.Stride+kj]
								best = math.Max(best, v)
								sum += v
							}
						}
						o := &out[pl*nd.Out.H*nd.Out.W+oy*nd.Out.W+ox]
						if nd.Op == ir.OpMaxPool {
							*o = best
						} else {
							*o = sum / float64(nd.Kernel*nd.Kernel)
						}
					}
				}
			}
		case ir.OpGAP:
			hw := in.H * in.W
			for pl := 0; pl < b*in.C; pl++ {
				for j := 0; j < hw; j++ {
					out[pl] += src[pl*hw+j] / float64(hw)
				}
			}
		case ir.OpFC, ir.OpLinear:
			w, bias := p[nd.Name+".weight"], p[nd.Name+".bias"]
			d := in.Size()
			for i := 0; i < b; i++ {
				for u := 0; u < nd.Units; u++ {
					var s float64
					if bias != nil {
						s = bias[u]
					}
					for j := 0; j < d; j++ {
						s += w[u*d+j] * src[i*d+j]
					}
					out[i*nd.Units+u] = s
				}
			}
		case ir.OpConcat:
			o := 0
			for i := 0; i < b; i++ {
				for _, id := range nd.Inputs {
					sz := g.Nodes[id].Out.Size()
					copy(out[o:o+sz], act[id][i*sz:(i+1)*sz])
					o += sz
				}
			}
		}
		act[nd.ID] = out
	}
	return act
}
