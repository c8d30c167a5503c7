// Package chromium drives headless Chromium for the dashboard's browser
// tests: load a page, let its scripts run, and read the rendered DOM or
// save a screenshot. It uses Debian's chromium package; tests skip when it
// is absent (tests/browser.sh installs it).
package chromium

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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

// DriverPath is where Debian's chromium-driver package installs
// chromedriver.
const DriverPath = "/usr/bin/chromedriver"

// Session is a headless Chromium driven through chromedriver's W3C
// WebDriver protocol, for tests that click.
type Session struct {
	t    testing.TB
	base string // http://127.0.0.1:PORT/session/ID
}

// HaveDriver reports whether chromedriver is installed.
func HaveDriver() bool {
	_, err := os.Stat(DriverPath)
	return err == nil
}

// NewSession starts chromedriver on a free loopback port and opens a
// headless browser; both end with the test. It skips the test when
// chromedriver is not installed.
func NewSession(t testing.TB) *Session {
	t.Helper()
	if !HaveDriver() {
		t.Skip("chromedriver not installed (apt-get install chromium-driver)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // chromedriver takes a port number, not a socket
	cmd := exec.Command(DriverPath, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	root := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(root + "/status")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"goog:chromeOptions": map[string]any{"binary": Path, "args": []string{"--headless", "--no-sandbox", "--disable-gpu",
			"--no-first-run", "--disable-background-networking", "--user-data-dir=" + t.TempDir(), "--window-size=1280,900"}},
	}}}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	if err := call(http.MethodPost, root+"/session", caps, &created); err != nil {
		t.Fatalf("new session: %v", err)
	}
	s := &Session{t: t, base: root + "/session/" + created.SessionID}
	t.Cleanup(func() { _ = call(http.MethodDelete, s.base, nil, nil) })
	return s
}

// Navigate loads url.
func (s *Session) Navigate(url string) {
	s.t.Helper()
	if err := call(http.MethodPost, s.base+"/url", map[string]string{"url": url}, nil); err != nil {
		s.t.Fatalf("navigate to %s: %v", url, err)
	}
}

// Click finds the first element matching css and clicks it. The error
// is returned, not fatal: a page that re-renders may replace the element
// between the two calls, and the caller retries.
func (s *Session) Click(css string) error {
	var found struct {
		Value map[string]string `json:"value"`
	}
	if err := call(http.MethodPost, s.base+"/element", map[string]string{"using": "css selector", "value": css}, &found); err != nil {
		return err
	}
	for _, id := range found.Value { // the one key is the W3C element identifier
		return call(http.MethodPost, s.base+"/element/"+id+"/click", map[string]any{}, nil)
	}
	return fmt.Errorf("no element %s", css)
}

// Text returns the visible text of the first element matching css.
func (s *Session) Text(css string) (string, error) {
	var found struct {
		Value map[string]string `json:"value"`
	}
	if err := call(http.MethodPost, s.base+"/element", map[string]string{"using": "css selector", "value": css}, &found); err != nil {
		return "", err
	}
	for _, id := range found.Value {
		var text struct {
			Value string `json:"value"`
		}
		err := call(http.MethodGet, s.base+"/element/"+id+"/text", nil, &text)
		return text.Value, err
	}
	return "", fmt.Errorf("no element %s", css)
}

// call sends one WebDriver command and decodes its answer into out.
func call(method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webdriver %s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if strings.HasSuffix(url, "/session") { // a new session answers {"value": {"sessionId": ...}}
		var v struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		raw = v.Value
	}
	return json.Unmarshal(raw, out)
}
