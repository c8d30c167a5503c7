package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// A file event that finds the config as last applied (one save seen as
// two bursts of events) applies nothing; SIGHUP always reloads; an edit
// after that is applied again.
func TestFileEventWithUnchangedContentAppliesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	write := func(backend string) {
		t.Helper()
		body := "listen: 127.0.0.1:0\nroutes: [{name: all, pool: p}]\npools: [{name: p, backends: [{address: " + backend + "}]}]\n"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("127.0.0.1:1")
	g := loadGateway(t, path)
	r := &Runner{ConfigPath: path}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := &reloadState{files: []string{path}}
	gen := func() uint64 { return g.Status().Generation }

	step := func(what string, forced bool, wantApplied bool) {
		t.Helper()
		before := gen()
		r.reload(g, tcpListeners{}, log, st, forced)
		if applied := gen() != before; applied != wantApplied {
			t.Fatalf("%s: applied %v, want %v (generation %d -> %d)", what, applied, wantApplied, before, gen())
		}
	}
	step("first file event", false, true) // nothing applied through reload yet
	step("the same bytes again", false, false)
	step("SIGHUP", true, true)
	write("127.0.0.1:2")
	step("an edit", false, true)
	step("the edit's second burst", false, false)
}

// A reload applies an l4 listener's backends in place; a change to the
// rest of it (here its mode) is not applied, and says it takes a restart.
func TestL4SettingsOtherThanBackendsWarn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	write := func(mode, backend string) {
		t.Helper()
		body := "listen: 127.0.0.1:0\nroutes: [{name: all, pool: p}]\npools: [{name: p, backends: [{address: 127.0.0.1:1}]}]\n" +
			"l4: [{name: broker, listen: 127.0.0.1:0, mode: " + mode + ", strategy: consistent_hash, backends: [{address: " + backend + "}]}]\n"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tcp", "127.0.0.1:1")
	g := loadGateway(t, path)
	cfg := g.Config()
	logs := &testkit.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	errc := make(chan error, 1)
	tcp, err := startTCP(g, cfg, errc, log)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.shutdown(context.Background())
	r := &Runner{ConfigPath: path}
	st := &reloadState{files: []string{path}}
	const restart = "l4 listener settings other than its backends take effect on restart"

	write("tcp", "127.0.0.1:2")
	r.reload(g, tcp, log, st, true)
	if strings.Contains(logs.String(), restart) {
		t.Fatalf("a backends-only edit warned:\n%s", logs)
	}
	if tcp["broker"].Backend("127.0.0.1:2") == nil || tcp["broker"].Backend("127.0.0.1:1") != nil {
		t.Fatal("the backends edit was not applied")
	}
	write("mqtt", "127.0.0.1:2")
	r.reload(g, tcp, log, st, true)
	if !strings.Contains(logs.String(), restart) || !strings.Contains(logs.String(), "name=broker") {
		t.Fatalf("a mode change did not warn:\n%s", logs)
	}
}

// loadGateway builds a gateway from the config file at path, closed when
// the test ends.
func loadGateway(t *testing.T, path string) *gateway.Gateway {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}
