package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// drawbridgeBinary is the real command, `drawbridge local`, built once
// per test run (testkit.Drawbridge).
func drawbridgeBinary(t *testing.T) string {
	t.Helper()
	binary := testkit.Drawbridge(t)
	// A copy per test, so that each test finds its own processes by path
	// while other tests run in parallel.
	own := filepath.Join(t.TempDir(), "drawbridge")
	if err := os.Link(binary, own); err != nil {
		data, err := os.ReadFile(binary)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(own, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return own
}

// processesOf lists the running processes executing bin (the command and
// the backends it starts).
func processesOf(t *testing.T, bin string) []string {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.HasPrefix(cmdline, []byte(bin+"\x00")) {
			continue
		}
		// A zombie awaiting its parent's wait is gone for our purpose.
		if stat, err := os.ReadFile(filepath.Join(d, "stat")); err == nil && strings.Contains(string(stat), ") Z ") {
			continue
		}
		out = append(out, filepath.Base(d)+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

func TestCommandDurationJSON(t *testing.T) {
	bin := drawbridgeBinary(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "local", "--duration", "20s", "--json", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--speed", strconv.FormatFloat(fastDay, 'f', -1, 64))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("drawbridge local: %v\n%s", err, stderr.String())
	}
	var sum map[string]any
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, out)
	}
	t.Logf("summary: %s", out)
	for _, k := range []string{"duration_s", "requests", "errors", "error_rate", "p99_ms", "peak_capacity", "final_capacity",
		"scale_outs", "scale_ins", "backends_served", "ready_ms"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %q", k)
		}
	}
	num := func(k string) float64 { f, _ := sum[k].(float64); return f }
	if num("errors") != 0 || num("requests") < 500 {
		t.Errorf("requests %v, errors %v; want many and none", sum["requests"], sum["errors"])
	}
	if num("scale_outs") < 1 || num("scale_ins") < 1 || num("backends_served") < 2 {
		t.Errorf("scale-outs %v, scale-ins %v, backends served %v", sum["scale_outs"], sum["scale_ins"], sum["backends_served"])
	}
	if left := processesOf(t, bin); len(left) > 0 {
		t.Errorf("processes left after exit: %v", left)
	}
	checkLiveLines(t, stderr.String())
}

// checkLiveLines holds the terminal's live output to two promises: no
// backend's own log line interleaves with it, and each line's "last"
// decision is the one that set the capacity it shows.
func checkLiveLines(t *testing.T, live string) {
	t.Helper()
	lastRe := regexp.MustCompile(`capacity (\d+)  last: \w+ \d+→(\d+) by`)
	withLast := 0
	for _, line := range strings.Split(live, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "{") {
			t.Errorf("a backend's log line reached the terminal: %s", line)
		}
		if m := lastRe.FindStringSubmatch(line); m != nil {
			withLast++
			if m[1] != m[2] {
				t.Errorf("live line shows capacity %s but its last decision went to %s: %s", m[1], m[2], line)
			}
		}
	}
	if withLast == 0 {
		t.Errorf("no live line named a last decision:\n%s", live)
	}
}

func TestCommandStopsCleanlyOnSIGTERM(t *testing.T) {
	bin := drawbridgeBinary(t)
	t.Parallel()
	cmd := exec.Command(bin, "local", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--min", "2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // only if the test failed midway
	lines := bufio.NewScanner(stdout)
	var gatewayAddr string
	for lines.Scan() {
		if f := strings.Fields(lines.Text()); len(f) >= 2 && f[0] == "gateway" {
			gatewayAddr = strings.TrimPrefix(f[1], "http://")
		}
		if strings.Contains(lines.Text(), "capacity") { // the first live line: running
			break
		}
	}
	if gatewayAddr == "" {
		t.Fatal("no gateway URL printed")
	}
	if n := len(processesOf(t, bin)); n < 3 {
		t.Fatalf("%d processes running, want the command and 2 backends", n)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := testkit.Receive(t, done, "the exit after SIGTERM"); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, rest.String())
	}
	if !strings.Contains(rest.String(), "requests") {
		t.Errorf("no final summary after SIGTERM:\n%s", rest.String())
	}
	if left := processesOf(t, bin); len(left) > 0 {
		t.Errorf("processes left after SIGTERM: %v", left)
	}
	assertNothingLeft(t, map[string]bool{gatewayAddr: true})
}
