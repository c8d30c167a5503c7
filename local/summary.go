package local

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Summary is a whole run as `drawbridge local --json` reports it.
type Summary struct {
	DurationS      float64 `json:"duration_s"`
	Requests       int64   `json:"requests"`
	Errors         int64   `json:"errors"`
	ErrorRate      float64 `json:"error_rate"`
	P99MS          float64 `json:"p99_ms"`
	PeakCapacity   int     `json:"peak_capacity"`
	FinalCapacity  int     `json:"final_capacity"`
	ScaleOuts      int     `json:"scale_outs"`
	ScaleIns       int     `json:"scale_ins"`
	BackendsServed int     `json:"backends_served"`
	ReadyMS        float64 `json:"ready_ms"`
	// Replacements counts backends started in place of ones that exited.
	Replacements int `json:"replacements"`
	// PoliciesActed names the policies that carried a scale-out or -in.
	PoliciesActed []string `json:"policies_acted"`
	LastError     string   `json:"last_error,omitempty"`
	// Served is the requests each backend answered successfully.
	Served map[string]int64 `json:"served_by_backend"`
}

// summarize is called once the load and the autoscaler have stopped.
func (s *Stack) summarize() Summary {
	p99, served, lastErr := s.lg.results()
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := Summary{
		DurationS: math.Round(time.Since(s.started).Seconds()*10) / 10,
		Requests:  s.lg.requests.Load(), Errors: s.lg.errors.Load(),
		P99MS:        math.Round(float64(p99)/1e4) / 100,
		PeakCapacity: s.peak, FinalCapacity: s.capacity,
		ScaleOuts: s.outs, ScaleIns: s.ins,
		ReadyMS:      math.Round(float64(s.readyIn)/1e4) / 100,
		Replacements: s.replaced, PoliciesActed: append([]string{}, slices.Sorted(maps.Keys(s.acted))...), // [] rather than null in --json
		LastError: lastErr, Served: served,
	}
	if sum.Requests > 0 {
		sum.ErrorRate = float64(sum.Errors) / float64(sum.Requests)
	}
	for id, n := range served {
		if id != "" && n > 0 {
			sum.BackendsServed++
		}
	}
	return sum
}

// WriteText prints the summary for a terminal.
func (sum Summary) WriteText(w io.Writer) error {
	ids := make([]string, 0, len(sum.Served))
	for id := range sum.Served {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var per []string
	for _, id := range ids {
		per = append(per, fmt.Sprintf("%s %d", id, sum.Served[id]))
	}
	acted := strings.Join(sum.PoliciesActed, ", ")
	if acted == "" {
		acted = "none"
	}
	_, err := fmt.Fprintf(w, `
drawbridge local: %.1fs
  ready in        %.0f ms (gateway answering through a healthy backend)
  requests        %d, errors %d (%.3f%%), p99 %.1f ms
  capacity        peak %d, final %d; %d scale-out(s), %d scale-in(s), %d replacement(s)
  policies acted  %s
  backends served %d: %s
`, sum.DurationS, sum.ReadyMS, sum.Requests, sum.Errors, 100*sum.ErrorRate, sum.P99MS,
		sum.PeakCapacity, sum.FinalCapacity, sum.ScaleOuts, sum.ScaleIns, sum.Replacements,
		acted, sum.BackendsServed, strings.Join(per, ", "))
	if err == nil && sum.LastError != "" {
		_, err = fmt.Fprintf(w, "  last error      %s\n", sum.LastError)
	}
	return err
}
