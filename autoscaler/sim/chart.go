package sim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Chart is what WriteSVG draws besides the series.
type Chart struct {
	Title string
	// Min and Max are the group's bounds in instances and CPI its
	// capacity per instance: drawn as capacity lines (a bound far above
	// the load is named in the legend instead, to keep the scale).
	Min, Max int
	CPI      float64
	// Curve and Policy, when set, add a second panel: the reactive
	// trade-off curve (τU and θU against instance-hours) with the
	// policy's point on it.
	Curve       []CurvePoint
	Policy      *Metrics
	PolicyLabel string
}

// WriteSVG draws a run's series as a self-contained SVG (no scripts, no
// external assets): demand, in-service supply and forecast load, in
// requests/s, over time, with the group's min and max capacity, and below
// it the equal-cost panel when c has a curve. Long series are reduced to
// at most 1,500 columns keeping each column's maximum, so that spikes
// stay visible.
func WriteSVG(w io.Writer, s *Series, c Chart) error {
	const width, height, left, right, top, bottom = 1200.0, 420.0, 70.0, 20.0, 50.0, 50.0
	title := c.Title
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
	// Bounds within 1.5x of the data are drawn (and may raise the
	// scale); farther ones only named.
	type bound struct {
		name string
		v    float64
	}
	var bounds, offScale []bound
	for _, b := range []bound{{"min", float64(c.Min) * c.CPI}, {"max", float64(c.Max) * c.CPI}} {
		switch {
		case c.CPI <= 0 || b.v <= 0:
		case b.v <= 1.5*top_:
			bounds = append(bounds, b)
		default:
			offScale = append(offScale, b)
		}
	}
	for _, b := range bounds {
		top_ = max(top_, b.v)
	}
	panel := 0.0
	if len(c.Curve) > 0 {
		panel = 380
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
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", width, height+panel, width, height+panel)
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
	for _, b := range bounds {
		fmt.Fprintf(bw, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="2,2"><title>group %s</title></line><text x="%g" y="%.1f" fill="#666">group %s: %d instances</text>`+"\n",
			left, width-right, y(b.v), y(b.v), b.name, left+4, y(b.v)-3, b.name, int(b.v/c.CPI))
	}
	for i, l := range []struct{ color, name string }{{"#c33", "load"}, {"#2a7", "capacity (in service)"}, {"#36c", "forecast (dashed)"}, {"#888", "group min/max (dotted)"}} {
		lx := width - right - 640 + float64(i)*160
		fmt.Fprintf(bw, `<rect x="%g" y="24" width="12" height="12" fill="%s"/><text x="%g" y="35">%s</text>`+"\n", lx, l.color, lx+16, l.name)
	}
	if len(offScale) > 0 {
		var parts []string
		for _, b := range offScale {
			parts = append(parts, fmt.Sprintf("group %s %d instances (%.4g requests/s) is off the scale", b.name, int(b.v/c.CPI), b.v))
		}
		fmt.Fprintf(bw, `<text x="%g" y="%g" text-anchor="end" fill="#666">%s</text>`+"\n", width-right, height-10, escape(strings.Join(parts, "; ")))
	}
	if len(c.Curve) > 0 {
		writeCurve(bw, c, height, width, left, right)
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

// writeCurve draws the equal-cost panel below y0: τU (solid) and θU
// (dashed) of the reactive sweep against instance-hours, each point
// labelled with its target, and the policy's τU and θU as dots.
func writeCurve(bw *bufio.Writer, c Chart, y0, width, left, right float64) {
	const h, top, bottom = 380.0, 40.0, 50.0
	xlo, xhi, ytop := math.Inf(1), math.Inf(-1), 0.0
	pts := append([]CurvePoint(nil), c.Curve...)
	if c.Policy != nil {
		pts = append(pts, CurvePoint{Metrics: *c.Policy})
	}
	for _, p := range pts {
		xlo, xhi = min(xlo, p.InstanceHours), max(xhi, p.InstanceHours)
		ytop = max(ytop, 100*p.UnderProvisionedTime, 100*p.UnderProvisionedDemand)
	}
	if xhi <= xlo {
		xlo, xhi = xlo*0.95, xhi*1.05+1
	}
	pad := (xhi - xlo) * 0.05
	xlo, xhi = xlo-pad, xhi+pad
	if ytop == 0 {
		ytop = 1
	}
	ytop *= 1.1
	x := func(v float64) float64 { return left + (width-left-right)*(v-xlo)/(xhi-xlo) }
	y := func(v float64) float64 { return y0 + h - bottom - (h-top-bottom)*v/ytop }
	fmt.Fprintf(bw, `<text x="%g" y="%g" font-size="14">At equal cost: reactive target tracking swept over targets (labelled) vs the policy</text>`+"\n", left, y0+20)
	for i := 0; i <= 4; i++ {
		v := ytop * float64(i) / 4
		fmt.Fprintf(bw, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%.3g%%</text>`+"\n", left, width-right, y(v), y(v), left-5, y(v)+4, v)
		xv := xlo + (xhi-xlo)*float64(i)/4
		fmt.Fprintf(bw, `<text x="%.1f" y="%g" text-anchor="middle">%.4g</text>`+"\n", x(xv), y0+h-bottom+16, xv)
	}
	fmt.Fprintf(bw, `<text x="%g" y="%g">instance-hours (x) against under-provisioning, %% (y)</text>`+"\n", left, y0+h-10)
	for _, l := range []struct {
		name, dash string
		v          func(Metrics) float64
	}{{"reactive τU (time share)", "", func(m Metrics) float64 { return m.UnderProvisionedTime }},
		{"reactive θU (demand share)", "5,3", func(m Metrics) float64 { return m.UnderProvisionedDemand }}} {
		var b strings.Builder
		for i, p := range c.Curve {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&b, "%s%.1f %.1f", cmd, x(p.InstanceHours), y(100*l.v(p.Metrics)))
		}
		fmt.Fprintf(bw, `<path d="%s" fill="none" stroke="#555" stroke-width="1.2" stroke-dasharray="%s"><title>%s</title></path>`+"\n", b.String(), l.dash, l.name)
		for _, p := range c.Curve {
			fmt.Fprintf(bw, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="#555"/>`+"\n", x(p.InstanceHours), y(100*l.v(p.Metrics)))
		}
	}
	for _, p := range c.Curve {
		fmt.Fprintf(bw, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle" fill="#555">%.0f%%</text>`+"\n", x(p.InstanceHours), y(100*p.UnderProvisionedTime)-6, 100*p.Target)
	}
	if c.Policy != nil {
		m := *c.Policy
		label := c.PolicyLabel
		if label == "" {
			label = "policy"
		}
		fmt.Fprintf(bw, `<circle cx="%.1f" cy="%.1f" r="5" fill="#c33"><title>%s τU</title></circle><rect x="%.1f" y="%.1f" width="8" height="8" fill="#c33"><title>%s θU</title></rect>`+"\n",
			x(m.InstanceHours), y(100*m.UnderProvisionedTime), escape(label), x(m.InstanceHours)-4, y(100*m.UnderProvisionedDemand)-4, escape(label))
		fmt.Fprintf(bw, `<text x="%.1f" y="%.1f" fill="#c33">%s</text>`+"\n", x(m.InstanceHours)+8, y(100*m.UnderProvisionedTime)-8, escape(label))
	}
	lx := width - right - 520
	fmt.Fprintf(bw, `<text x="%g" y="%g">grey solid: reactive τU; grey dashed: reactive θU; red dot: policy τU; red square: policy θU</text>`+"\n", lx, y0+38)
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
