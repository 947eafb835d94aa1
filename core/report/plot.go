package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

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
	if a := s.StartAcc(); !math.IsNaN(a) {
		start := plotter.NewFunction(func(float64) float64 { return 100 * a })
		start.Color, start.Dashes = color.Gray{Y: 90}, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(start)
		p.Legend.Add("start point", start)
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())
	p.X.Min = 0
	if a := s.StartAcc(); !math.IsNaN(a) { // functions do not widen the axis: make the start line visible
		p.Y.Min = math.Min(p.Y.Min, 100*a-0.5)
		p.Y.Max = math.Max(p.Y.Max, 100*a+0.5)
	}
	return save(p, dir, "progress-"+s.Name, formats)
}

// ComparePlot is Figure 5: best-so-far and mean accuracy against the number
// of sampled networks, one colour per search.
func ComparePlot(ss []Search, dir string, formats []string) ([]string, error) {
	p := plot.New()
	p.Title.Text = "RL versus random search"
	p.X.Label.Text = "number of sampled networks"
	p.Y.Label.Text = "validation accuracy (%)"
	for i, s := range ss {
		c := CurveOf(s)
		var best, mean plotter.XYs
		for k, n := range c.N {
			if !math.IsNaN(c.Best[k]) {
				best = append(best, plotter.XY{X: float64(n), Y: 100 * c.Best[k]})
				mean = append(mean, plotter.XY{X: float64(n), Y: 100 * c.Mean[k]})
			}
		}
		if len(best) == 0 {
			continue
		}
		col := palette[i%len(palette)]
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
		p.Legend.Add(s.Name+" best", lb)
		p.Legend.Add(s.Name+" mean", lm)
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())
	p.X.Min = 0
	return save(p, dir, "rl_vs_random", formats)
}
