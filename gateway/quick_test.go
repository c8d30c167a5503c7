package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// runQuick runs a quick proxy (`drawbridge gateway proxy` with these flags,
// through config.Quick as the command does) on real listeners until the
// test ends, and returns its listeners.
func runQuick(t *testing.T, q config.QuickProxy) Listeners {
	t.Helper()
	cfg, err := config.Quick(q)
	if err != nil {
		t.Fatalf("config.Quick(%+v): %v", q, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Listeners, 1)
	done := make(chan error, 1)
	r := &Runner{Config: cfg, Options: Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Ready: func(l Listeners, _ *Gateway) { ready <- l }}
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("quick proxy: %v", err)
		}
	})
	select {
	case l := <-ready:
		return l
	case err := <-done:
		t.Fatalf("quick proxy did not start: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("quick proxy did not start within 15s")
	}
	return Listeners{}
}

// The quick proxy with nothing but --listen and --to, in front of three
// backends, one of which is killed and restarted four times during 20,000
// GETs: no client may see an error (issue 10: it used to see thousands).
func TestQuickProxyChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 requests with kills; skipped with -short")
	}
	bs, addrs := startChaosBackends(t, 3)
	l := runQuick(t, config.QuickProxy{Listen: "127.0.0.1:0", To: strings.Join(addrs, ",")})

	const workers, perWorker = 8, 2500 // 20,000 GETs
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ld := startLoad(ctx, "http://"+l.HTTP.String()+"/", workers, perWorker)
	done := func() int64 { return ld.ok.Load() + ld.failed.Load() }
	victim := bs[1]
	for k := range 4 { // kill at 2k, 6k, 10k, 14k requests; back 2k later
		at := int64(2000 + 4000*k)
		testkit.Eventually(t, fmt.Sprint("request ", at), func() bool { return done() >= at })
		victim.Kill()
		testkit.Eventually(t, fmt.Sprint("request ", at+2000), func() bool { return done() >= at+2000 })
		victim.Restart(t)
	}
	ld.wait()
	t.Logf("quick proxy chaos: 4 kills, %d ok, %d client-visible errors", ld.ok.Load(), ld.failed.Load())
	if ld.failed.Load() != 0 {
		t.Fatalf("%d client-visible errors; first: %v", ld.failed.Load(), ld.firstErr.Load())
	}
	if ld.ok.Load() != workers*perWorker {
		t.Fatalf("%d requests answered, want %d", ld.ok.Load(), workers*perWorker)
	}
}

// Two quick proxies on one machine both start, with or without an admin
// listener (issue 10: both bound 127.0.0.1:9090 and the second failed).
func TestTwoQuickProxiesSideBySide(t *testing.T) {
	be := startBackends(t, 1)[0]
	for _, admin := range []string{"", "127.0.0.1:0"} {
		a := runQuick(t, config.QuickProxy{Listen: "127.0.0.1:0", To: be.Addr(), Admin: admin})
		b := runQuick(t, config.QuickProxy{Listen: "127.0.0.1:0", To: be.Addr(), Admin: admin})
		for _, l := range []Listeners{a, b} {
			if code, _, _ := get(t, http.DefaultClient, "http://"+l.HTTP.String()+"/"); code != 200 {
				t.Fatalf("admin %q: proxy on %s answered %d", admin, l.HTTP, code)
			}
			if (admin == "") != (l.Admin == nil) {
				t.Fatalf("--admin %q: admin listener %v", admin, l.Admin)
			}
			if l.Admin != nil {
				if code, _, _ := get(t, http.DefaultClient, "http://"+l.Admin.String()+"/healthz"); code != 200 {
					t.Fatalf("admin %s: /healthz %d", l.Admin, code)
				}
			}
		}
	}
}

// A quick proxy refuses an oversized header block with 431, as a config
// file's default does: 256 KiB, or just over the default limit if that is
// higher.
func TestQuickProxyRefusesHugeHeaders(t *testing.T) {
	be := startBackends(t, 1)[0]
	l := runQuick(t, config.QuickProxy{Listen: "127.0.0.1:0", To: be.Addr()})
	def := new(config.Config)
	def.SetDefaults()
	size := max(256<<10, def.Server.MaxHeaderBytes+8<<10)
	c := testkit.Dial(t, l.HTTP.String())
	go func() { // the gateway may answer before reading it all
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", size))
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("%d-byte header: %d, want 431", size, resp.StatusCode)
	}
}
