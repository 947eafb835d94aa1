package dashboard

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// The plots are SVG drawn here: a few hundred lines instead of a charting
// library, nothing to fetch, presentation attributes only (the pages'
// Content-Security-Policy forbids inline styles and scripts).

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// Mark kinds of a series.
const (
	markPoints = iota // one dot per point (links and titles optional)
	markLine          // solid line
	markDashed        // dashed line
	markLevel         // dotted horizontal line at ys[0] across the plot
	markBand          // shaded area between ys and lo
)

type series struct {
	name   string
	color  string
	mark   int
	xs, ys []float64
	lo     []float64 // markBand: the lower edge
	links  []string  // markPoints: a link per point ("" none)
	titles []string  // markPoints: a tooltip per point
}

type chart struct {
	title, xlabel, ylabel string
	series                []series
}

const (
	plotW, plotH           = 760, 380
	padL, padR, padT, padB = 56, 16, 30, 44
	innerW, innerH         = plotW - padL - padR, plotH - padT - padB
	maxColumnsKept         = innerW // points kept per series: about one column of pixels each
	legendRow              = 16
)

// svg renders the chart; an empty chart says so instead of drawing axes.
func (c chart) svg() string {
	x0, x1, y0, y1, ok := c.bounds()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" class="plot" role="img" aria-label="%s">`, plotW, plotH, esc(c.title))
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14" font-weight="bold" fill="#222">%s</text>`, padL, esc(c.title))
	if !ok {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" fill="#666">no networks trained yet</text></svg>`, padL, padT+innerH/2)
		return b.String()
	}
	sx := func(x float64) float64 { return padL + (x-x0)/(x1-x0)*innerW }
	sy := func(y float64) float64 { return padT + (1-(y-y0)/(y1-y0))*innerH }
	c.axes(&b, x0, x1, y0, y1, sx, sy)
	for _, s := range c.series {
		drawSeries(&b, s, x0, x1, sx, sy)
	}
	c.legend(&b)
	b.WriteString(`</svg>`)
	return b.String()
}

func (c chart) bounds() (x0, x1, y0, y1 float64, ok bool) {
	x0, x1, y0, y1 = 0, 1, math.Inf(1), math.Inf(-1)
	data := false
	for _, s := range c.series {
		for i, y := range s.ys {
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			if s.mark != markLevel {
				x1 = math.Max(x1, s.xs[i])
				data = true
			}
			y0, y1 = math.Min(y0, y), math.Max(y1, y)
			if s.mark == markBand && !math.IsNaN(s.lo[i]) {
				y0 = math.Min(y0, s.lo[i])
			}
		}
	}
	if !data {
		return 0, 0, 0, 0, false
	}
	pad := math.Max(0.5, (y1-y0)*0.05)
	return x0, x1, y0 - pad, y1 + pad, true
}

func (c chart) axes(b *strings.Builder, x0, x1, y0, y1 float64, sx, sy func(float64) float64) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#999"/>`, padL, padT, innerW, innerH)
	for _, t := range ticks(y0, y1) {
		y := sy(t)
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#444">%s</text>`,
			padL, padL+innerW, y, y, padL-4, y+4, fmtTick(t))
	}
	for _, t := range ticks(x0, x1) {
		if t != math.Trunc(t) {
			continue // networks are counted
		}
		x := sx(t)
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/><text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#444">%s</text>`,
			x, x, padT, padT+innerH, x, padT+innerH+15, fmtTick(t))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="12" text-anchor="middle" fill="#222">%s</text>`, padL+innerW/2, plotH-8, esc(c.xlabel))
	fmt.Fprintf(b, `<text x="14" y="%d" font-size="12" text-anchor="middle" fill="#222" transform="rotate(-90 14 %d)">%s</text>`, padT+innerH/2, padT+innerH/2, esc(c.ylabel))
}

func drawSeries(b *strings.Builder, s series, x0, x1 float64, sx, sy func(float64) float64) {
	switch s.mark {
	case markPoints:
		fmt.Fprintf(b, `<g fill="%s" fill-opacity="0.75" class="points">`, s.color)
		for _, i := range thin(s.xs, s.ys, x0, x1) {
			title := ""
			if i < len(s.titles) {
				title = "<title>" + esc(s.titles[i]) + "</title>"
			}
			dot := fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="3">%s</circle>`, sx(s.xs[i]), sy(s.ys[i]), title)
			if i < len(s.links) && s.links[i] != "" {
				dot = `<a href="` + esc(s.links[i]) + `">` + dot + `</a>`
			}
			b.WriteString(dot)
		}
		b.WriteString(`</g>`)
	case markLine, markDashed:
		dash := ""
		if s.mark == markDashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, s.color, dash, path(thin(s.xs, s.ys, x0, x1), s.xs, s.ys, sx, sy))
	case markLevel:
		if len(s.ys) > 0 && !math.IsNaN(s.ys[0]) {
			y := sy(s.ys[0])
			fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="2 3"/>`, padL, padL+innerW, y, y, s.color)
		}
	case markBand:
		keep := thin(s.xs, s.ys, x0, x1)
		var pts []string
		for _, i := range keep {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(s.xs[i]), sy(s.ys[i])))
		}
		for k := len(keep) - 1; k >= 0; k-- {
			i := keep[k]
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(s.xs[i]), sy(s.lo[i])))
		}
		fmt.Fprintf(b, `<polygon fill="%s" fill-opacity="0.18" stroke="none" points="%s"/>`, s.color, strings.Join(pts, " "))
	}
}

func path(keep []int, xs, ys []float64, sx, sy func(float64) float64) string {
	var pts []string
	for _, i := range keep {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(xs[i]), sy(ys[i])))
	}
	return strings.Join(pts, " ")
}

// thin keeps the finite points, and when there are more than pixel columns,
// only each column's first, lowest, highest and last point: the drawing
// looks the same and a plot of 100,000 networks stays a few hundred KB.
func thin(xs, ys []float64, x0, x1 float64) []int {
	var keep []int
	for i := range ys {
		if !math.IsNaN(ys[i]) && !math.IsInf(ys[i], 0) {
			keep = append(keep, i)
		}
	}
	if len(keep) <= 2*maxColumnsKept {
		return keep
	}
	type col struct{ first, lo, hi, last int }
	cols := map[int]*col{}
	var order []int
	for _, i := range keep {
		k := int((xs[i] - x0) / (x1 - x0) * maxColumnsKept)
		c := cols[k]
		if c == nil {
			c = &col{i, i, i, i}
			cols[k] = c
			order = append(order, k)
		}
		if ys[i] < ys[c.lo] {
			c.lo = i
		}
		if ys[i] > ys[c.hi] {
			c.hi = i
		}
		c.last = i
	}
	var out []int
	for _, k := range order {
		c := cols[k]
		for _, i := range sortedUnique(c.first, c.lo, c.hi, c.last) {
			out = append(out, i)
		}
	}
	return out
}

func sortedUnique(xs ...int) []int {
	var out []int
	for _, x := range xs {
		dup := false
		for _, y := range out {
			dup = dup || x == y
		}
		if !dup {
			out = append(out, x)
		}
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func (c chart) legend(b *strings.Builder) {
	y := padT + 12
	x := padL + innerW - 230
	rows := 0
	for _, s := range c.series {
		if s.name != "" {
			rows++
		}
	}
	if rows > 0 { // a pale box, so points under the legend do not hide it
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="226" height="%d" fill="#fff" fill-opacity="0.85" stroke="#ddd"/>`, x-4, y-12, rows*legendRow+4)
	}
	for _, s := range c.series {
		if s.name == "" {
			continue
		}
		switch s.mark {
		case markPoints:
			fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="3" fill="%s"/>`, x+10, y-4, s.color)
		case markBand:
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="20" height="8" fill="%s" fill-opacity="0.18"/>`, x, y-8, s.color)
		default:
			dash := map[int]string{markDashed: ` stroke-dasharray="6 4"`, markLevel: ` stroke-dasharray="2 3"`}[s.mark]
			fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, x, x+20, y-4, y-4, s.color, dash)
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11" fill="#222">%s</text>`, x+26, y, esc(s.name))
		y += legendRow
	}
}

// ticks are about five round values (1, 2 or 5 times a power of ten) in [a, b].
func ticks(a, b float64) []float64 {
	if !(b > a) {
		return nil
	}
	raw := (b - a) / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := p
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	var out []float64
	for t := math.Ceil(a/step) * step; t <= b+step*1e-9; t += step {
		out = append(out, t)
	}
	return out
}

func fmtTick(t float64) string {
	if math.Abs(t-math.Round(t)) < 1e-9 {
		return fmt.Sprintf("%.0f", t)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", t), "0"), ".")
}

func esc(s string) string { return html.EscapeString(s) }
