package sim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// WriteSVG draws a run's series as a self-contained SVG (no scripts, no
// external assets): demand, in-service supply and forecast load, in
// requests/s, over time. Long series are reduced to at most 1,500 columns
// keeping each column's maximum, so that spikes stay visible.
func WriteSVG(w io.Writer, s *Series, title string) error {
	const width, height, left, right, top, bottom = 1200.0, 420.0, 70.0, 20.0, 50.0, 50.0
	n := len(s.Demand)
	if n == 0 {
		return fmt.Errorf("chart: empty series")
	}
	cols := min(n, 1500)
	per := float64(n) / float64(cols)
	reduce := func(xs []float64) []float64 {
		out := make([]float64, cols)
		for c := range cols {
			m := math.NaN()
			for i := int(float64(c) * per); i < int(float64(c+1)*per) && i < n; i++ {
				if !math.IsNaN(xs[i]) && (math.IsNaN(m) || xs[i] > m) {
					m = xs[i]
				}
			}
			out[c] = m
		}
		return out
	}
	demand, supply, fc := reduce(s.Demand), reduce(s.Supply), reduce(s.Forecast)
	top_ := 0.0
	for _, xs := range [][]float64{demand, supply, fc} {
		for _, v := range xs {
			if !math.IsNaN(v) {
				top_ = max(top_, v)
			}
		}
	}
	if top_ == 0 {
		top_ = 1
	}
	x := func(c int) float64 { return left + (width-left-right)*float64(c)/float64(max(cols-1, 1)) }
	y := func(v float64) float64 { return height - bottom - (height-top-bottom)*v/top_ }
	path := func(xs []float64) string {
		var b strings.Builder
		pen := false
		for c, v := range xs {
			if math.IsNaN(v) {
				pen = false
				continue
			}
			if pen {
				fmt.Fprintf(&b, "L%.1f %.1f", x(c), y(v))
			} else {
				fmt.Fprintf(&b, "M%.1f %.1f", x(c), y(v))
				pen = true
			}
		}
		return b.String()
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(bw, `<text x="%g" y="20" font-size="14">%s</text>`+"\n", left, escape(title))
	for i := 0; i <= 4; i++ {
		v := top_ * float64(i) / 4
		fmt.Fprintf(bw, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%.4g</text>`+"\n", left, width-right, y(v), y(v), left-5, y(v)+4, v)
	}
	end := s.Start.Add(s.Step * time.Duration(n))
	fmt.Fprintf(bw, `<text x="%g" y="%g">%s</text><text x="%g" y="%g" text-anchor="end">%s</text>`+"\n",
		left, height-bottom+18, s.Start.Format("2006-01-02 15:04"), width-right, height-bottom+18, end.Format("2006-01-02 15:04"))
	fmt.Fprintf(bw, `<text x="%g" y="%g">requests/s (UTC)</text>`+"\n", left, height-10)
	for _, l := range []struct {
		d, color, name, dash string
	}{{path(supply), "#2a7", "capacity (in service)", ""}, {path(demand), "#c33", "load", ""}, {path(fc), "#36c", "forecast", "5,3"}} {
		if l.d == "" {
			continue
		}
		fmt.Fprintf(bw, `<path d="%s" fill="none" stroke="%s" stroke-width="1.2" stroke-dasharray="%s"><title>%s</title></path>`+"\n", l.d, l.color, l.dash, l.name)
	}
	for i, l := range []struct{ color, name string }{{"#c33", "load"}, {"#2a7", "capacity (in service)"}, {"#36c", "forecast (dashed)"}} {
		lx := width - right - 480 + float64(i)*160
		fmt.Fprintf(bw, `<rect x="%g" y="24" width="12" height="12" fill="%s"/><text x="%g" y="35">%s</text>`+"\n", lx, l.color, lx+16, l.name)
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
