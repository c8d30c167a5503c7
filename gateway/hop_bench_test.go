package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

// BenchmarkQuickProxyHop is one GET through the quick proxy's config (with
// its retries and outlier detection) against the bare default config, over
// loopback, to keep the safety defaults from costing the hop.
func BenchmarkQuickProxyHop(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	b.Cleanup(be.Close)
	addr := be.Listener.Addr().String()
	quick, err := config.Quick(config.QuickProxy{To: addr})
	if err != nil {
		b.Fatal(err)
	}
	bare, err := config.Default([]string{addr})
	if err != nil {
		b.Fatal(err)
	}
	bare.Admin.Enabled, bare.AccessLog.Enabled = false, false
	for name, cfg := range map[string]*config.Config{"default": bare, "quick": quick} {
		b.Run(name, func(b *testing.B) {
			g, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			gw := httptest.NewServer(g)
			b.Cleanup(func() { gw.Close(); g.Close() })
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			url := gw.URL + "/" + strings.Repeat("x", 8)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
