package forecast

import (
	"math"
	"testing"
)

func TestSeasonalNaive(t *testing.T) {
	h := []float64{1, 2, 3, 4, 5, 6}
	tests := []struct {
		season, horizon int
		want            []float64
	}{
		{3, 3, []float64{4, 5, 6}},
		{3, 5, []float64{4, 5, 6, 4, 5}}, // wraps into its own forecast
		{2, 3, []float64{5, 6, 5}},
	}
	for _, tt := range tests {
		got := SeasonalNaive{"x", tt.season}.Forecast(h, tt.horizon)
		for i := range tt.want {
			if got[i] != tt.want[i] {
				t.Errorf("season %d: got %v, want %v", tt.season, got, tt.want)
				break
			}
		}
	}
}

func TestMAPE(t *testing.T) {
	if got := MAPE([]float64{100, 200, 0}, []float64{110, 180, 5}); math.Abs(got-0.1) > 1e-12 {
		t.Errorf("MAPE = %g, want 0.1 (zero actuals skipped)", got)
	}
	if got := MAPE([]float64{0}, []float64{1}); !math.IsNaN(got) {
		t.Errorf("MAPE of zeros = %g, want NaN", got)
	}
}

// synthetic is a daily-seasonal series with a trend and a little noise.
func synthetic(n, season int) []float64 {
	xs := make([]float64, n)
	seed := uint32(1)
	for i := range xs {
		seed = seed*1664525 + 1013904223
		noise := float64(seed>>16)/65536 - 0.5
		xs[i] = 1000 + 2*float64(i) + 300*math.Sin(2*math.Pi*float64(i)/float64(season)) + 10*noise
	}
	return xs
}

func TestHoltWintersFitsSeasonalTrend(t *testing.T) {
	h := synthetic(24*10, 24)
	actual := synthetic(24*10+48, 24)[24*10:]
	fit := HoltWinters{Season: 24}.Fit(h)
	hw := MAPE(actual, fit.Forecast(48))
	naive := MAPE(actual, SeasonalNaive{"day", 24}.Forecast(h, 48))
	t.Logf("48-step MAPE: holt-winters %.3f%% (α=%g β=%g γ=%g), seasonal naive %.3f%%", 100*hw, fit.Model.Alpha, fit.Model.Beta, fit.Model.Gamma, 100*naive)
	if hw > naive || hw > 0.02 {
		t.Errorf("Holt-Winters MAPE %.4f should beat seasonal naive %.4f (which misses the trend) and stay under 2%%", hw, naive)
	}
}

func TestSelectPicksLowestError(t *testing.T) {
	// A pure weekly pattern: the weekly naive model is exact.
	h := make([]float64, 24*7*3)
	for i := range h {
		h[i] = float64(100 + (i/24)%7*50 + i%24)
	}
	sel, ok := Select(h, Candidates(NameAuto, 24, len(h)), 24, 48)
	if !ok {
		t.Fatal("no model selected")
	}
	if sel.Model.Name() != NameSeasonalNaiveWeek || sel.Errors[NameSeasonalNaiveWeek] != 0 {
		t.Errorf("selected %s with errors %v, want %s at 0", sel.Model.Name(), sel.Errors, NameSeasonalNaiveWeek)
	}
	if _, ok := Select(h[:10], Candidates(NameAuto, 24, 10), 24, 48); ok {
		t.Error("selected a model on 10 values; none has enough history")
	}
}
