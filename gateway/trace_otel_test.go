package gateway

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/drawbridge-dev/drawbridge/gateway/trace"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry/otlptest"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// stopGateway stops rn and waits for Run to return, so the spans it
// buffered have been exported.
func stopGateway(t *testing.T, rn *running) {
	rn.cancel()
	err := <-rn.done
	rn.done <- err // for runGateway's cleanup
	if err != nil {
		t.Errorf("gateway run: %v", err)
	}
}

// The Must-show of tracing: a request retried once (the first backend
// answers 503, the second 200) reaches a real OTLP endpoint as the route's
// server span with two try spans under it, in the trace the client's
// traceparent named; each backend saw its own try as the parent.
func TestTracingExportsRouteAndTrySpans(t *testing.T) {
	testRouteAndTrySpans(t, otlptest.Start(t), "http/protobuf")
}

// The same over OTLP/gRPC (tracing.protocol: grpc).
func TestTracingExportsRouteAndTrySpansOverGRPC(t *testing.T) {
	testRouteAndTrySpans(t, otlptest.StartGRPC(t), "grpc")
}

func testRouteAndTrySpans(t *testing.T, recv *otlptest.Receiver, protocol string) {
	var mu sync.Mutex
	seen := map[string][]string{} // backend -> traceparents received
	backend := func(name string, status int) *testkit.HTTPBackend {
		return startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = append(seen[name], r.Header.Get("Traceparent"))
			mu.Unlock()
			w.WriteHeader(status)
		}))
	}
	failing, ok := backend("failing", 503), backend("ok", 200)
	yaml := routeWith("retry: {backoff_base: 1ms, backoff_max: 2ms}", "", failing.Addr(), ok.Addr()) +
		"tracing: {enabled: true, protocol: " + protocol + ", endpoint: \"" + recv.URL() + "\", service_name: edge}\n"
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(yaml, "\t", "  ")), 0o600); err != nil {
		t.Fatal(err)
	}
	rn := runGateway(t, path, nil)
	url := "http://" + rn.addr

	// Round robin starts on either backend: of two requests, at least one
	// meets the failing backend first and is retried on the other.
	parents := []string{
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-1bf7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01",
	}
	for _, tp := range parents {
		req, _ := http.NewRequest("GET", url+"/x", nil)
		req.Header.Set("Traceparent", tp)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200 after the retry", resp.StatusCode)
		}
	}
	stopGateway(t, rn) // flushes the batch

	mu.Lock()
	defer mu.Unlock()
	if len(seen["failing"]) == 0 {
		t.Fatal("the failing backend was never tried; the test proves nothing")
	}
	clientTP := ""
	for _, tp := range parents {
		if tp[3:35] == seen["failing"][0][3:35] {
			clientTP = tp
		}
	}
	if clientTP == "" {
		t.Fatalf("the backend's traceparent %q is not in the client's trace", seen["failing"][0])
	}
	traceID, clientSpan := clientTP[3:35], clientTP[36:52]

	spans := recv.Wait(t, 10*time.Second, func(ss []otlptest.Span) bool {
		n := 0
		for _, s := range ss {
			if s.TraceID() == traceID {
				n++
			}
		}
		return n >= 3
	})
	var server otlptest.Span
	var tries []otlptest.Span
	for _, s := range spans {
		if s.TraceID() != traceID {
			continue
		}
		if s.Service != "edge" {
			t.Errorf("span %q from service %q, want edge", s.Name, s.Service)
		}
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			tries = append(tries, s)
		}
	}
	if server.Span == nil {
		t.Fatalf("no server span in trace %s", traceID)
	}
	if server.Name != "GET all" || server.Attr("drawbridge.route") != "all" || server.Attr("http.response.status_code") != int64(200) {
		t.Errorf("server span %q route %v status %v; want \"GET all\", all, 200",
			server.Name, server.Attr("drawbridge.route"), server.Attr("http.response.status_code"))
	}
	if server.ParentID() != clientSpan {
		t.Errorf("server span's parent %s, want the client's span %s", server.ParentID(), clientSpan)
	}
	retried := false
	for _, e := range server.Events {
		retried = retried || e.Name == "retry" && otlptest.Attr(e.Attributes, "drawbridge.try") == int64(2)
	}
	if !retried {
		t.Errorf("no retry event for try 2 on the server span: %v", server.Events)
	}
	if len(tries) != 2 {
		t.Fatalf("%d try spans, want 2", len(tries))
	}
	if tries[0].Attr("drawbridge.try").(int64) > tries[1].Attr("drawbridge.try").(int64) {
		tries[0], tries[1] = tries[1], tries[0]
	}
	want := []struct {
		try    int64
		addr   string
		status int64
		sawTP  string
	}{
		{1, failing.Addr(), 503, seen["failing"][0]},
		{2, ok.Addr(), 200, ""},
	}
	for _, tp := range seen["ok"] {
		if tp[3:35] == traceID {
			want[1].sawTP = tp
		}
	}
	for i, s := range tries {
		w := want[i]
		if s.ParentID() != server.ID() {
			t.Errorf("try %d: parent %s, want the server span %s", i+1, s.ParentID(), server.ID())
		}
		addr := s.Attr("server.address").(string) + ":" + strconv.FormatInt(s.Attr("server.port").(int64), 10)
		if s.Attr("drawbridge.try") != w.try || addr != w.addr || s.Attr("http.response.status_code") != w.status {
			t.Errorf("try span %d: try %v addr %s status %v; want %d %s %d", i+1,
				s.Attr("drawbridge.try"), addr, s.Attr("http.response.status_code"), w.try, w.addr, w.status)
		}
		if want := "00-" + traceID + "-" + s.ID() + "-01"; w.sawTP != want {
			t.Errorf("try %d: backend saw traceparent %q, want %q (this try as parent)", i+1, w.sawTP, want)
		}
	}
	if tries[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Error("the 503 try is not marked as an error")
	}
}

// Auth and the cache run as children of the route's span; a miss's try is
// the cache span's child, and a hit makes no try at all.
func TestTracingAuthAndCacheSpans(t *testing.T) {
	recv := otlptest.Start(t)
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write([]byte("cached"))
	}))
	route := fmt.Sprintf("auth: {api_keys: {keys: {alice: %x}}}\ncache: {}", sha256.Sum256([]byte("key-alice")))
	yaml := routeWith(route, "", be.Addr()) + "tracing: {enabled: true, endpoint: " + recv.URL() + "}\n"
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	rn := runGateway(t, path, nil)
	traces := []string{"2af7651916cd43dd8448eb211c80319c", "3af7651916cd43dd8448eb211c80319c"}
	for i, id := range traces {
		req, _ := http.NewRequest("GET", "http://"+rn.addr+"/doc", nil)
		req.Header.Set("Traceparent", "00-"+id+"-b7ad6b7169203331-01")
		req.Header.Set("X-API-Key", "key-alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := []string{"MISS", "HIT"}[i]; resp.StatusCode != 200 || resp.Header.Get("X-Cache") != want {
			t.Fatalf("request %d: %d X-Cache %q, want 200 %s", i, resp.StatusCode, resp.Header.Get("X-Cache"), want)
		}
	}
	stopGateway(t, rn)
	spans := recv.Wait(t, 10*time.Second, func(ss []otlptest.Span) bool { return len(ss) >= 7 })
	for i, id := range traces {
		byName := map[string]otlptest.Span{}
		for _, s := range spans {
			if s.TraceID() == id {
				byName[s.Name] = s
			}
		}
		server, auth, cache, try := byName["GET all"], byName["auth"], byName["cache"], byName["GET"]
		if server.Span == nil || auth.Span == nil || cache.Span == nil {
			t.Fatalf("request %d: spans %v, want GET all, auth and cache", i, keys(byName))
		}
		if auth.ParentID() != server.ID() || cache.ParentID() != server.ID() {
			t.Errorf("request %d: auth's parent %s, cache's %s, want the server span %s", i, auth.ParentID(), cache.ParentID(), server.ID())
		}
		if auth.Attr("auth.method") != "api_key" || auth.Attr("auth.status") != int64(200) {
			t.Errorf("request %d: auth span method %v status %v", i, auth.Attr("auth.method"), auth.Attr("auth.status"))
		}
		if want := []string{"MISS", "HIT"}[i]; cache.Attr("cache.result") != want {
			t.Errorf("request %d: cache.result %v, want %s", i, cache.Attr("cache.result"), want)
		}
		switch {
		case i == 0 && (try.Span == nil || try.ParentID() != cache.ID()):
			t.Errorf("the miss's try span %v is not the cache span's child", try.Span)
		case i == 1 && try.Span != nil:
			t.Error("the hit made a try")
		}
	}
}

func keys(m map[string]otlptest.Span) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A client without a usable traceparent starts a trace at the gateway: the
// backend receives that trace (not a second random one), and a tracestate
// that came with a malformed traceparent is dropped. Both ways of talking
// to backends (HTTP/1.1 and h2c) carry the try's traceparent.
func TestTracingStartsTraceForClientWithout(t *testing.T) {
	for _, proto := range []string{"http1", "h2c"} {
		t.Run(proto, func(t *testing.T) {
			recv := otlptest.Start(t)
			got := make(chan http.Header, 2)
			be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Clone()
			}))
			if proto == "h2c" {
				be.Config.Protocols = new(http.Protocols)
				be.Config.Protocols.SetUnencryptedHTTP2(true)
			}
			be.Start()
			t.Cleanup(be.Close)
			yaml := poolConfigAddrs("protocol: "+proto, be.Listener.Addr().String()) + "tracing: {enabled: true, endpoint: " + recv.URL() + "}\n"
			path := filepath.Join(t.TempDir(), "gateway.yaml")
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			rn := runGateway(t, path, nil)
			for _, tp := range []string{"", "00-nothex-b7ad6b7169203331-01"} {
				req, _ := http.NewRequest("GET", "http://"+rn.addr+"/", nil)
				if tp != "" {
					req.Header.Set("Traceparent", tp)
					req.Header.Set("Tracestate", "vendor=stale")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			stopGateway(t, rn)
			spans := recv.Wait(t, 10*time.Second, func(ss []otlptest.Span) bool { return len(ss) >= 4 })
			for i := 0; i < 2; i++ {
				h := <-got
				tp := h.Get("Traceparent")
				if !trace.ValidTraceparent(tp) || h.Get("Tracestate") != "" {
					t.Fatalf("request %d: backend got traceparent %q tracestate %q", i, tp, h.Get("Tracestate"))
				}
				var server, try *otlptest.Span
				for j := range spans {
					if s := &spans[j]; s.TraceID() == tp[3:35] {
						switch s.Kind {
						case tracepb.Span_SPAN_KIND_SERVER:
							server = s
						case tracepb.Span_SPAN_KIND_CLIENT:
							try = s
						}
					}
				}
				if server == nil || try == nil || server.ParentID() != "" || try.ParentID() != server.ID() || tp[36:52] != try.ID() {
					t.Fatalf("request %d: the backend's traceparent %s does not name a try span under a root server span", i, tp)
				}
			}
		})
	}
}

// The tracing block is read at start: a reload that changes it says so.
func TestReloadWarnsTracingTakesRestart(t *testing.T) {
	be := startBackends(t, 1)[0]
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(poolConfig("", be)), 0o600); err != nil {
		t.Fatal(err)
	}
	reload := make(chan struct{}, 1)
	rn := runGateway(t, path, reload)
	if err := os.WriteFile(path, []byte(poolConfig("", be)+"tracing: {enabled: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	testkit.Eventually(t, "the restart warning", func() bool {
		return strings.Contains(rn.log.String(), "tracing or log settings changed; they take effect on restart")
	})
}

// A try whose failure opens the backend's circuit breaker shows it as an
// event on the request's span.
func TestTracingBreakerEvent(t *testing.T) {
	recv := otlptest.Start(t)
	bad := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	yaml := poolConfig("circuit_breaker: {failure_ratio: 0.5, min_requests: 1}", bad) +
		"tracing: {enabled: true, endpoint: " + recv.URL() + "}\n"
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	rn := runGateway(t, path, nil)
	resp, err := http.Get("http://" + rn.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stopGateway(t, rn)
	spans := recv.Wait(t, 10*time.Second, func(ss []otlptest.Span) bool { return len(ss) >= 2 })
	for _, s := range spans {
		if s.Kind != tracepb.Span_SPAN_KIND_SERVER {
			continue
		}
		for _, e := range s.Events {
			if e.Name != "breaker" {
				continue
			}
			a := e.Attributes
			if otlptest.Attr(a, "from") != "closed" || otlptest.Attr(a, "to") != "open" || otlptest.Attr(a, "drawbridge.backend") != bad.Addr() {
				t.Fatalf("breaker event %v", e.Attributes)
			}
			if s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || s.Attr("http.response.status_code") != int64(503) {
				t.Errorf("server span status %v, code %v; want an error, 503", s.Status, s.Attr("http.response.status_code"))
			}
			return
		}
	}
	t.Fatal("no breaker event on the server span")
}
