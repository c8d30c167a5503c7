package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// chromiumPath is where Debian's chromium package installs the browser
// (.ci/run installs it when missing).
const chromiumPath = "/usr/bin/chromium"

// runChromium loads url in headless Chromium and returns the DOM after
// the page's scripts ran for a few seconds of virtual time. With
// screenshot set it saves a 1280×800 PNG instead of the DOM.
func runChromium(t *testing.T, url, screenshot string) string {
	t.Helper()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,800", "--virtual-time-budget=3000"}
	if screenshot != "" {
		args = append(args, "--screenshot="+screenshot)
	} else {
		args = append(args, "--dump-dom")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumPath, append(args, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out)
}

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
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("chromium not installed (apt-get install chromium chromium-driver; .ci/run does)")
	}
	if testing.Short() {
		t.Skip("runs local mode and a browser; skipped with -short")
	}
	t.Parallel()
	opt := testOptions()
	opt.Speed = fastDay
	s := startStack(t, opt)
	url := s.URLs().Dashboard
	// Let a few seconds of series accumulate, and the first scale-out.
	testkit.EventuallyWithin(t, 20*time.Second, "a scale-out and 5 s of series", func() bool {
		st := s.State()
		return len(st.Series) >= 5 && len(st.Groups) == 1 && st.Groups[0].Desired >= 2
	})

	first := parsePage(t, runChromium(t, url, ""))
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
	second := parsePage(t, runChromium(t, url, ""))
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
	runChromium(t, url, shot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v (size %d)", shot, err, sizeOf(fi))
	}
	t.Logf("screenshot: %s", shot)
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}
