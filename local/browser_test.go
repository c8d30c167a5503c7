package local

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/chromium"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

var (
	backendRow   = regexp.MustCompile(`<tr class="backend" data-id="([^"]+)"`)
	capacityLine = regexp.MustCompile(`<polyline id="line-capacity"[^>]*\spoints="([^"]*)"`)
	loadLine     = regexp.MustCompile(`<polyline id="line-load"[^>]*\spoints="([^"]*)"`)
	requestsKPI  = regexp.MustCompile(`id="kpi-requests">([0-9,]+)<`)
	updatesAttr  = regexp.MustCompile(`<body data-updates="([0-9]+)"`)
)

// page is what the test reads from a rendered dashboard.
type page struct {
	backends      []string
	capacityPairs int
	loadPoints    string
	requests      int
	updates       int
}

func parsePage(t *testing.T, dom string) page {
	t.Helper()
	var p page
	for _, m := range backendRow.FindAllStringSubmatch(dom, -1) {
		p.backends = append(p.backends, m[1])
	}
	if m := capacityLine.FindStringSubmatch(dom); m != nil {
		p.capacityPairs = len(strings.Fields(m[1]))
	}
	if m := loadLine.FindStringSubmatch(dom); m != nil {
		p.loadPoints = m[1]
	}
	if m := requestsKPI.FindStringSubmatch(dom); m != nil {
		p.requests, _ = strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
	}
	if m := updatesAttr.FindStringSubmatch(dom); m != nil {
		p.updates, _ = strconv.Atoi(m[1])
	}
	return p
}

// TestDashboardInBrowser loads the dashboard of a running local mode in
// headless Chromium: the backends table and the capacity chart render
// from live data, and a later load shows newer values. It saves a
// screenshot (to $DRAWBRIDGE_SCREENSHOT when set, e.g. docs/dashboard.png).
func TestDashboardInBrowser(t *testing.T) {
	chromium.SkipIfMissing(t)
	s := startFastDay(t, "runs local mode and a browser")
	url := s.URLs().Dashboard
	// Let a few seconds of series accumulate, and the first scale-out.
	testkit.EventuallyWithin(t, 20*time.Second, "a scale-out and 5 s of series", func() bool {
		st := s.State()
		return len(st.Series) >= 5 && len(st.Groups) == 1 && st.Groups[0].Desired >= 2
	})

	first := parsePage(t, chromium.Run(t, url, "", 1280, 800))
	t.Logf("first load: %+v", first)
	if len(first.backends) < 2 {
		t.Errorf("backends table: %d rows (%v), want >= 2", len(first.backends), first.backends)
	}
	if first.capacityPairs < 4 {
		t.Errorf("capacity chart: %d points, want >= 4", first.capacityPairs)
	}
	if first.updates < 1 || first.requests == 0 {
		t.Errorf("page not rendered from the feed: %d updates, %d requests shown", first.updates, first.requests)
	}

	before := s.State().Load.Requests
	testkit.EventuallyWithin(t, 10*time.Second, "more requests served", func() bool { return s.State().Load.Requests > before+200 })
	second := parsePage(t, chromium.Run(t, url, "", 1280, 800))
	t.Logf("second load: %+v", second)
	if second.requests <= first.requests {
		t.Errorf("requests shown went from %d to %d; want the count to grow", first.requests, second.requests)
	}
	if second.loadPoints == first.loadPoints || second.capacityPairs < first.capacityPairs {
		t.Errorf("chart did not update: %d then %d capacity points", first.capacityPairs, second.capacityPairs)
	}

	shot := os.Getenv("DRAWBRIDGE_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "dashboard.png")
	}
	chromium.Run(t, url, shot, 1280, 800)
	t.Logf("screenshot: %s", shot)
}
