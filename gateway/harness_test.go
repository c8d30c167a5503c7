package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// startBackends starts n demo backends named b0..bn-1.
func startBackends(t *testing.T, n int) []*testkit.HTTPBackend { return testkit.StartDemo(t, n) }

// startHandlerBackend serves h on loopback.
func startHandlerBackend(t *testing.T, h http.Handler) *testkit.HTTPBackend {
	return testkit.StartHTTP(t, h)
}

// parseConfig parses YAML written in the test, with tabs for readability.
func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(strings.ReplaceAll(yaml, "\t", "  ")))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// startGateway runs g behind a real loopback listener.
func startGateway(t testing.TB, cfg *config.Config, o Options) (*Gateway, *httptest.Server) {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g, err := New(cfg, o)
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	s := httptest.NewUnstartedServer(g)
	srv := g.HTTPServer(cfg)
	s.Config.Protocols = srv.Protocols
	s.Config.ConnContext = srv.ConnContext
	s.Config.ConnState = srv.ConnState
	s.Config.MaxHeaderBytes = srv.MaxHeaderBytes
	s.Config.HTTP2 = srv.HTTP2
	s.Listener = engineListener(t, g, cfg, srv, s.Listener)
	s.Start()
	t.Cleanup(func() { s.Close(); g.Close() })
	return g, s
}

// poolConfig renders a one-route, one-pool config for backends.
func poolConfig(extra string, backends ...*testkit.HTTPBackend) string {
	addrs := make([]string, len(backends))
	for i, be := range backends {
		addrs[i] = be.Addr()
	}
	return poolConfigAddrs(extra, addrs...)
}

// poolConfigAddrs is poolConfig for bare addresses.
func poolConfigAddrs(extra string, addrs ...string) string {
	var b strings.Builder
	b.WriteString("access_log: {enabled: false}\nadmin: {enabled: false}\nroutes:\n  - name: all\n    pool: p\npools:\n  - name: p\n")
	if extra != "" {
		for _, line := range strings.Split(strings.TrimSpace(extra), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	b.WriteString("    backends:\n")
	for _, a := range addrs {
		b.WriteString("      - address: " + a + "\n")
	}
	return b.String()
}

func get(t *testing.T, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(body), resp.Header
}

// getAsync sends a GET in the background; the result is "STATUS BODY" or
// the error text.
func getAsync(c *http.Client, url string) <-chan string {
	result := make(chan string, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- fmt.Sprint(resp.StatusCode, " ", string(b))
	}()
	return result
}

// load is a steady client load: workers loop GETs until ctx ends (or a
// bound on requests is reached), counting answers that are not a 200.
type load struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	wg         sync.WaitGroup
}

func startLoad(ctx context.Context, url string, workers, maxPerWorker int) *load {
	l := &load{}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < maxPerWorker && ctx.Err() == nil; i++ {
				resp, err := client.Get(url)
				if err != nil {
					l.fail(err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					l.fail(fmt.Sprint("status ", resp.StatusCode))
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

func (l *load) fail(why string) {
	l.failed.Add(1)
	l.firstErr.CompareAndSwap(nil, why)
}

// wait waits for the workers to stop (their context must end).
func (l *load) wait() { l.wg.Wait() }

// recorder captures what a backend received.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r)
	rc.mu.Unlock()
	w.Header().Set("X-Path", r.URL.RequestURI())
	_, _ = w.Write([]byte("recorded " + r.URL.RequestURI()))
}

func (rc *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.reqs) == 0 {
		t.Fatal("backend saw no request")
	}
	return rc.reqs[len(rc.reqs)-1]
}
