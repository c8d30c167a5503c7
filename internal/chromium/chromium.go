// Package chromium drives headless Chromium for the dashboard's browser
// tests: load a page, let its scripts run, and read the rendered DOM or
// save a screenshot. It uses Debian's chromium package; tests skip when it
// is absent (tests/browser.sh installs it).
package chromium

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Path is where Debian's chromium package installs the browser.
const Path = "/usr/bin/chromium"

// SkipIfMissing skips the test when Chromium is not installed.
func SkipIfMissing(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		t.Skip("chromium not installed (apt-get install chromium chromium-driver; tests/browser.sh and .ci/run do)")
	}
}

// Run loads url in headless Chromium and returns the DOM after the page's
// scripts ran for a few seconds of virtual time. With screenshot set it
// saves a PNG of width×height instead and returns "".
func Run(t testing.TB, url, screenshot string, width, height int) string {
	t.Helper()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--user-data-dir=" + t.TempDir(), "--window-size=" + strconv.Itoa(width) + "," + strconv.Itoa(height), "--virtual-time-budget=3000"}
	if screenshot != "" {
		args = append(args, "--screenshot="+screenshot)
	} else {
		args = append(args, "--dump-dom")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, Path, append(args, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	if screenshot != "" {
		if fi, err := os.Stat(screenshot); err != nil || fi.Size() < 10_000 {
			t.Fatalf("screenshot %s: %v (too small or missing)", screenshot, err)
		}
		return ""
	}
	return string(out)
}
