package server

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
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
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
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
