package forecast_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/drawbridge-dev/drawbridge/autoscaler/forecast"
	"github.com/drawbridge-dev/drawbridge/autoscaler/sim"
)

// hourly loads a shared trace as hourly totals.
func hourly(t *testing.T, name string) []float64 {
	path := filepath.Join("../../../shared/traces", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared trace %s absent", path)
	}
	tr, err := sim.LoadTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	per := int(3600e9 / int64(tr.Step))
	out := make([]float64, tr.Len()/per)
	for i := range out {
		for j := range per {
			out[i] += tr.Requests[i*per+j]
		}
	}
	return out
}

// rolling1h returns the 1-hour-ahead MAPE of a forecaster on hourly
// totals, refitting every 24 h on up to 14 days, from day 8 on (so that
// every model has its history).
func rolling1h(xs []float64, name string) float64 {
	var actual, pred []float64
	var sel forecast.Selection
	for t := 8 * 24; t < len(xs); t++ {
		hist := xs[max(0, t-14*24):t]
		if (t-8*24)%24 == 0 || sel.Model == nil {
			sel, _ = forecast.Select(hist, forecast.Candidates(name, 24, len(hist)), 24, 1)
		}
		var p float64
		switch m := sel.Model.(type) {
		case forecast.HoltWinters:
			// Parameters fitted at the last refit, state run to now.
			p = m.Forecast(hist, 1)[0]
		default:
			p = m.Forecast(hist, 1)[0]
		}
		actual, pred = append(actual, xs[t]), append(pred, max(p, 0))
	}
	return forecast.MAPE(actual, pred)
}

// TestForecastAccuracySharedTraces is the forecast accuracy
// check: the automatic choice's 1-hour-ahead MAPE on hourly totals must
// be no worse than seasonal naive's (the better of day and week).
func TestForecastAccuracySharedTraces(t *testing.T) {
	for _, name := range []string{"wikipedia-en-2016-01-per-hour.csv", "worldcup98-per-minute.csv"} {
		t.Run(name, func(t *testing.T) {
			xs := hourly(t, name)
			got := map[string]float64{}
			for _, m := range []string{forecast.NameSeasonalNaiveDay, forecast.NameSeasonalNaiveWeek, forecast.NameHoltWinters, forecast.NameAuto} {
				got[m] = rolling1h(xs, m)
				t.Logf("%-20s 1h-ahead MAPE %6.2f%%", m, 100*got[m])
			}
			naive := min(got[forecast.NameSeasonalNaiveDay], got[forecast.NameSeasonalNaiveWeek])
			if got[forecast.NameAuto] > naive {
				t.Errorf("auto MAPE %.4f is worse than seasonal naive %.4f", got[forecast.NameAuto], naive)
			}
		})
	}
}
