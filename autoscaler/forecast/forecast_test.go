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

// PricedBuffer buys the tail when it is cheap and not when it is dear.
func TestPricedBuffer(t *testing.T) {
	pred := make([]float64, 100)
	for i := range pred {
		pred[i] = 100
	}
	// Ratios spread evenly from 1.00 to 1.099: covering 98% instead of
	// 80% costs under 2% more capacity and saves 18% of the misses.
	cheap := make([]float64, 100)
	for i := range cheap {
		cheap[i] = 100 + float64(i)/10 // ratios 1.00 .. 1.099
	}
	if b, ok := PricedBuffer(cheap, pred, 1, 0); !ok || b < 1.09 {
		t.Errorf("cheap tail: buffer %.3f, want the 98%% quantile (≥ 1.09)", b)
	}
	// Exact 80% of the time, then ratios 1.2 to 5: covering more than
	// 80% would cost several times the load, far more than the misses
	// it saves are worth at price 1.
	dear := make([]float64, 100)
	for i := range dear {
		dear[i] = 100 + 20*max(float64(i-79), 0)
	}
	if b, ok := PricedBuffer(dear, pred, 1, 0); !ok || b != 1 {
		t.Errorf("heavy tail: buffer %.3f, want the 80%% quantile's 1", b)
	}
	if b, _ := PricedBuffer(dear, pred, 100, 0); b != 4.6 {
		t.Errorf("heavy tail at price 100: buffer %.3f, want the 98%% quantile's 4.6", b)
	}
	// At a high price the cheap tail is bought to the most on offer.
	if b, _ := PricedBuffer(cheap, pred, 100, 0); b != 1.097 {
		t.Errorf("price 100: buffer %.4f, want the 98%% quantile 1.097", b)
	}
	// In whole units of 30 a prediction of 100 already floors at 120: a
	// buffer of 1 covers every load up to 120, so the cheap tail needs
	// none.
	if b, _ := PricedBuffer(cheap, pred, 100, 30); b != 1 {
		t.Errorf("units of 30: buffer %.4f, want 1", b)
	}
	if _, ok := PricedBuffer([]float64{1, 2}, []float64{0, math.NaN()}, 1, 0); ok {
		t.Error("no positive prediction: want ok false")
	}
}

// OneStepBacktest reaches as far back as the model can be backtested,
// and agrees with Select's shorter backtest where they overlap.
func TestOneStepBacktest(t *testing.T) {
	h := make([]float64, 24*6)
	for i := range h {
		h[i] = 100 + 50*math.Sin(2*math.Pi*float64(i)/24) + float64(i%7)
	}
	day := SeasonalNaive{Label: "d", Season: 24}
	one := OneStepBacktest(day, h, 1000)
	if len(one) != len(h)-24 {
		t.Fatalf("seasonal naive: %d predictions, want %d", len(one), len(h)-24)
	}
	for i, v := range one {
		if v != h[i] {
			t.Fatalf("prediction %d = %g, want the value a day before, %g", i, v, h[i])
		}
	}
	hw := HoltWinters{Season: 24}
	sel, ok := Select(h, []Model{hw}, 24, 1)
	if !ok {
		t.Fatal("no selection")
	}
	long := OneStepBacktest(sel.Models[hw.Name()], h, 72)
	short := sel.OneSteps[hw.Name()]
	if len(long) != 72 {
		t.Fatalf("holt-winters: %d predictions, want 72", len(long))
	}
	for i := range short {
		if long[48+i] != short[i] {
			t.Fatalf("holt-winters prediction %d: %g here, %g in Select", i, long[48+i], short[i])
		}
	}
	if got := OneStepBacktest(day, h[:20], 5); got != nil {
		t.Errorf("history shorter than a season: %v, want nil", got)
	}
}
