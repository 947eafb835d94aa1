package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255}, color.RGBA{R: 148, G: 103, B: 189, A: 255},
}

func save(p *plot.Plot, dir, stem string, formats []string) ([]string, error) {
	var files []string
	for _, f := range formats {
		path := filepath.Join(dir, stem+"."+f)
		if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}

// ProgressPlot is Figure 4: the validation accuracy of each sampled network in
// order, the running best, and the start point.
func ProgressPlot(s Search, dir string, formats []string) ([]string, error) {
	c := CurveOf(s)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Search %q: sampled networks", s.Name)
	p.X.Label.Text = "number of sampled networks"
	p.Y.Label.Text = "validation accuracy (%)"
	var pts, best plotter.XYs
	for i, n := range c.N {
		if !math.IsNaN(c.Acc[i]) {
			pts = append(pts, plotter.XY{X: float64(n), Y: 100 * c.Acc[i]})
		}
		if !math.IsNaN(c.Best[i]) {
			best = append(best, plotter.XY{X: float64(n), Y: 100 * c.Best[i]})
		}
	}
	if len(pts) > 0 {
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Color = palette[0]
		sc.GlyphStyle.Radius = vg.Points(2.5)
		p.Add(sc)
		p.Legend.Add("sampled network", sc)
		ln, err := plotter.NewLine(best)
		if err != nil {
			return nil, err
		}
		ln.Color, ln.Width = palette[1], vg.Points(1.5)
		p.Add(ln)
		p.Legend.Add("best so far", ln)
	}
	levels := []float64{}
	if a := s.StartAcc(); !math.IsNaN(a) {
		start := plotter.NewFunction(func(float64) float64 { return 100 * a })
		start.Color, start.Dashes = color.Gray{Y: 90}, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(start)
		p.Legend.Add("start point", start)
		levels = append(levels, a)
	}
	// The control beside the start point: what the start network reaches
	// with a child's training and no transformation.
	for _, c := range s.Controls() {
		if a := s.ControlAcc(c.Stage); !math.IsNaN(a) {
			ln := plotter.NewFunction(func(float64) float64 { return 100 * a })
			ln.Color, ln.Width, ln.Dashes = palette[2], vg.Points(1.5), []vg.Length{vg.Points(1.5), vg.Points(2)}
			p.Add(ln)
			label := "control (start retrained)"
			if c.Stage > 1 {
				label = fmt.Sprintf("control, stage %d", c.Stage)
			}
			p.Legend.Add(label, ln)
			levels = append(levels, a)
		}
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())
	p.X.Min = 0
	widen(p, levels)
	return save(p, dir, progressStem(s), formats)
}

// progressStem names a run's progress plot (no slashes: "rl/r2" -> "progress-rl-r2").
func progressStem(s Search) string { return "progress-" + strings.ReplaceAll(s.Name, "/", "-") }

// widen makes horizontal lines at the given accuracies visible: plotter
// functions do not widen the axes themselves.
func widen(p *plot.Plot, levels []float64) {
	for _, a := range levels {
		p.Y.Min = math.Min(p.Y.Min, 100*a-0.5)
		p.Y.Max = math.Max(p.Y.Max, 100*a+0.5)
	}
}

// ComparePlot is Figure 5: best-so-far and mean accuracy against the number
// of sampled networks, one colour per search, with each search's control as
// a dotted level. A repeated search draws the mean over its seeds, with a
// shaded band of ± one standard deviation around the best-so-far curve.
func ComparePlot(ss []Search, dir string, formats []string) ([]string, error) {
	p := plot.New()
	p.Title.Text = "RL versus random search"
	p.X.Label.Text = "number of sampled networks"
	p.Y.Label.Text = "validation accuracy (%)"
	var levels []float64
	maxN := 0
	for _, g := range Groups(ss) {
		for _, c := range g.curves() {
			maxN = max(maxN, len(c.N))
		}
	}
	for i, g := range Groups(ss) {
		col := palette[i%len(palette)]
		var best, mean, hi, lo plotter.XYs
		for n := 1; n <= maxN; n++ {
			b, m := g.at(n)
			mb, sb, k := MeanSD(b)
			mm, _, _ := MeanSD(m)
			if k == 0 || math.IsNaN(mb) {
				continue
			}
			best = append(best, plotter.XY{X: float64(n), Y: 100 * mb})
			mean = append(mean, plotter.XY{X: float64(n), Y: 100 * mm})
			hi = append(hi, plotter.XY{X: float64(n), Y: 100 * (mb + sb)})
			lo = append(lo, plotter.XY{X: float64(n), Y: 100 * (mb - sb)})
		}
		if len(best) == 0 {
			continue
		}
		label := g.Name
		if len(g.Runs) > 1 {
			label = fmt.Sprintf("%s (mean of %d seeds)", g.Name, len(g.Runs))
			band := append(plotter.XYs{}, hi...)
			for k := len(lo) - 1; k >= 0; k-- {
				band = append(band, lo[k])
			}
			poly, err := plotter.NewPolygon(band)
			if err != nil {
				return nil, err
			}
			r, gg, b, _ := col.RGBA()
			poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(gg >> 8), B: uint8(b >> 8), A: 50}
			poly.LineStyle.Width = 0
			p.Add(poly)
			p.Legend.Add(g.Name+" best ± sd", poly)
		}
		lb, err := plotter.NewLine(best)
		if err != nil {
			return nil, err
		}
		lb.Color, lb.Width = col, vg.Points(2)
		lm, err := plotter.NewLine(mean)
		if err != nil {
			return nil, err
		}
		lm.Color, lm.Width, lm.Dashes = col, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(lb, lm)
		p.Legend.Add(label+" best", lb)
		p.Legend.Add(label+" mean", lm)
		if m, _, k := MeanSD(g.controls()); k > 0 {
			ctl := plotter.NewFunction(func(float64) float64 { return 100 * m })
			ctl.Color, ctl.Width, ctl.Dashes = col, vg.Points(1.2), []vg.Length{vg.Points(1.5), vg.Points(2)}
			p.Add(ctl)
			p.Legend.Add(g.Name+" control", ctl)
			levels = append(levels, m)
		}
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())
	p.X.Min = 0
	widen(p, levels)
	return save(p, dir, "rl_vs_random", formats)
}
