package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// emptyError is an error-like attribute logged without a value.
var emptyError = regexp.MustCompile(`\b(err|error)[a-z_]*=(""|<nil>)`)

// The daemon's log lines from start to shutdown, as `gateway run` (a file
// with admin, health checks, tracing, discovery, an L4 listener) and `gateway proxy` (the
// quick config) start it, carry no "<nil>" and no empty error.
func TestStartupLogHasNoNilValues(t *testing.T) {
	be := testkit.StartDemo(t, 1)[0]
	tcp := testkit.StartTCP(t, "t", nil)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
access_log: {enabled: false}
shutdown_timeout: 2s
tracing: {enabled: true, endpoint: "http://%s"}
routes: [{name: all, pool: p}, {name: found, match: {path_prefix: /found}, pool: found}]
pools:
  - name: p
    health_check: {path: /, interval: 1s, timeout: 500ms}
    backends: [{address: %s}]
  - name: found
    discovery: {type: file, file: backends.yaml}
l4:
  - name: t
    listen: 127.0.0.1:0
    backends: [{address: %s}]
`, testkit.DeadAddr(t), be.Addr(), tcp.Addr())
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "backends.yaml"), []byte("- "+be.Addr()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	quick, err := config.Quick(config.QuickProxy{Listen: "127.0.0.1:0", To: be.Addr(), Admin: "127.0.0.1:0", HealthPath: "/"})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Runner{
		"gateway run":   {ConfigPath: path},
		"gateway proxy": {Config: quick},
	} {
		t.Run(name, func(t *testing.T) {
			logs := &testkit.Buffer{}
			r.Options.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ready := make(chan struct{})
			r.Ready = func(Listeners, *gateway.Gateway) { close(ready) }
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			testkit.Started(t, ready, done, "the gateway")
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			out := logs.String()
			if !strings.Contains(out, "shutting down") {
				t.Fatalf("no shutdown line:\n%s", out)
			}
			if testing.Verbose() {
				t.Log(out)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if strings.Contains(line, "<nil>") || emptyError.MatchString(line) {
					t.Errorf("log line with a nil or empty value: %s", line)
				}
			}
		})
	}
}
