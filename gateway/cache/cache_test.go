package cache

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rig is a real backend behind a real httputil.ReverseProxy behind the
// cache, all on loopback, with a fake clock for every timestamp.
type rig struct {
	clk   *clock.Fake
	c     *Cache
	calls atomic.Int64
	front *httptest.Server
	last  atomic.Pointer[http.Request] // last request the backend saw
	// who, if set before the first request, plays the gateway's auth: it
	// says who sent r (and may strip credentials from it).
	who func(r *http.Request) Requester
}

func newRig(t *testing.T, cfg Config, h http.HandlerFunc, opts ...func(*httputil.ReverseProxy)) *rig {
	t.Helper()
	rg := &rig{clk: clock.NewFake(t0)}
	rg.c = New(cfg, rg.clk)
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rg.calls.Add(1)
		rg.last.Store(r)
		// The server would stamp the real time; the cache must see the
		// fake clock's time to compute ages.
		w.Header().Set("Date", rg.clk.Now().Format(http.TimeFormat))
		h(w, r)
	}))
	t.Cleanup(back.Close)
	u, _ := url.Parse(back.URL)
	proxy := httputil.NewSingleHostReverseProxy(u)
	for _, o := range opts {
		o(proxy)
	}
	rg.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rg.who == nil {
			rg.c.Serve(w, r, proxy.ServeHTTP)
			return
		}
		rg.c.ServeAs(w, r, proxy.ServeHTTP, rg.who(r))
	}))
	t.Cleanup(rg.front.Close)
	return rg
}

type result struct {
	status int
	header http.Header
	body   string
}

func (rg *rig) do(t *testing.T, method, path string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, rg.front.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

func (rg *rig) get(t *testing.T, path string, hdr ...string) result {
	t.Helper()
	return rg.do(t, http.MethodGet, path, hdr...)
}

func expect(t *testing.T, res result, status int, xcache, body string) {
	t.Helper()
	if res.status != status || res.header.Get("X-Cache") != xcache || res.body != body {
		t.Fatalf("got %d X-Cache=%q body=%.40q (%d bytes); want %d %q %.40q", res.status, res.header.Get("X-Cache"), res.body, len(res.body), status, xcache, body)
	}
}

func fixed(cc, body string, extra ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			w.Header().Set(extra[i], extra[i+1])
		}
		io.WriteString(w, body)
	}
}

func TestMaxAgeHitThenExpiry(t *testing.T) {
	rg := newRig(t, Config{MaxBytes: 1 << 20}, fixed("max-age=60", "hello"))
	expect(t, rg.get(t, "/a"), 200, "MISS", "hello")
	rg.clk.Advance(10 * time.Second)
	res := rg.get(t, "/a")
	expect(t, res, 200, "HIT", "hello")
	if res.header.Get("Age") != "10" {
		t.Fatalf("Age = %q, want 10", res.header.Get("Age"))
	}
	expect(t, rg.get(t, "/a?x=1"), 200, "MISS", "hello") // query is part of the key
	rg.clk.Advance(51 * time.Second)
	expect(t, rg.get(t, "/a"), 200, "MISS", "hello")
	if n := rg.calls.Load(); n != 3 {
		t.Fatalf("backend calls = %d, want 3", n)
	}
	st := rg.c.Stats()
	if st.Hits != 1 || st.Misses != 3 || st.Entries != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSMaxAgeOverridesMaxAge(t *testing.T) {
	rg := newRig(t, Config{}, fixed("max-age=0, s-maxage=30", "x"))
	rg.get(t, "/")
	rg.clk.Advance(29 * time.Second)
	expect(t, rg.get(t, "/"), 200, "HIT", "x")
	rg.clk.Advance(2 * time.Second)
	expect(t, rg.get(t, "/"), 200, "MISS", "x")
}

func TestUpstreamAgeCounts(t *testing.T) {
	rg := newRig(t, Config{}, fixed("max-age=60", "x", "Age", "50"))
	rg.get(t, "/")
	rg.clk.Advance(9 * time.Second)
	if res := rg.get(t, "/"); res.header.Get("Age") != "59" {
		t.Fatalf("Age = %q, want 59", res.header.Get("Age"))
	}
	rg.clk.Advance(1 * time.Second)
	expect(t, rg.get(t, "/"), 200, "MISS", "x")
}

func TestExpires(t *testing.T) {
	var exp atomic.Value
	exp.Store(t0.Add(30 * time.Second).Format(http.TimeFormat))
	rg := newRig(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Expires", exp.Load().(string))
		io.WriteString(w, "e")
	})
	rg.get(t, "/")
	rg.clk.Advance(29 * time.Second)
	expect(t, rg.get(t, "/"), 200, "HIT", "e")
	rg.clk.Advance(2 * time.Second)
	expect(t, rg.get(t, "/"), 200, "MISS", "e")
	exp.Store("0") // invalid date: already expired
	rg.get(t, "/bad")
	expect(t, rg.get(t, "/bad"), 200, "MISS", "e")
}

func TestNotStored(t *testing.T) {
	cases := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"no-store", fixed("max-age=60, no-store", "x")},
		{"private", fixed("private, max-age=60", "x")},
		{"private-field", fixed(`private="X-User", max-age=60`, "x")},
		{"set-cookie", fixed("max-age=60", "x", "Set-Cookie", "sid=1")},
		{"vary-star", fixed("max-age=60", "x", "Vary", "*")},
		{"no-freshness-no-validator", fixed("", "x")},
		{"no-cache-no-validator", fixed("no-cache", "x")},
		{"status-500", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.WriteHeader(500)
			io.WriteString(w, "x")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rg := newRig(t, Config{}, tc.h)
			rg.get(t, "/")
			if res := rg.get(t, "/"); res.header.Get("X-Cache") != "MISS" {
				t.Fatalf("second request X-Cache = %q, want MISS", res.header.Get("X-Cache"))
			}
			if n := rg.calls.Load(); n != 2 {
				t.Fatalf("backend calls = %d, want 2", n)
			}
			if st := rg.c.Stats(); st.Entries != 0 || st.Bytes != 0 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

func TestDefaultTTLHeuristic(t *testing.T) {
	rg := newRig(t, Config{DefaultTTL: time.Minute}, fixed("", "x"))
	rg.get(t, "/")
	expect(t, rg.get(t, "/"), 200, "HIT", "x")
}

func TestAuthorization(t *testing.T) {
	rg := newRig(t, Config{}, fixed("max-age=60", "secret"))
	rg.get(t, "/p", "Authorization", "Bearer a")
	expect(t, rg.get(t, "/p", "Authorization", "Bearer b"), 200, "MISS", "secret")

	rg2 := newRig(t, Config{}, fixed("public, max-age=60", "shared"))
	rg2.get(t, "/p", "Authorization", "Bearer a")
	expect(t, rg2.get(t, "/p"), 200, "HIT", "shared")
}

func TestVary(t *testing.T) {
	rg := newRig(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
	})
	expect(t, rg.get(t, "/", "Accept-Language", "fr"), 200, "MISS", "lang=fr")
	expect(t, rg.get(t, "/", "Accept-Language", "de"), 200, "MISS", "lang=de")
	expect(t, rg.get(t, "/", "Accept-Language", "fr"), 200, "HIT", "lang=fr")
	expect(t, rg.get(t, "/", "Accept-Language", "de"), 200, "HIT", "lang=de")
	expect(t, rg.get(t, "/"), 200, "MISS", "lang=")
	if st := rg.c.Stats(); st.Entries != 3 {
		t.Fatalf("entries = %d, want 3", st.Entries)
	}
}

// validating serves body with the given validator header and answers the
// matching conditional with 304, counting those.
func validating(cc string, notMod *atomic.Int64) http.HandlerFunc {
	lm := t0.Add(-time.Hour).Format(http.TimeFormat)
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Last-Modified", lm)
		if r.Header.Get("If-None-Match") == `"v1"` {
			notMod.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body-v1")
	}
}

func TestRevalidateWithETag(t *testing.T) {
	var notMod atomic.Int64
	rg := newRig(t, Config{}, validating("max-age=10", &notMod))
	expect(t, rg.get(t, "/"), 200, "MISS", "body-v1")
	rg.clk.Advance(11 * time.Second)
	res := rg.get(t, "/")
	expect(t, res, 200, "REVALIDATED", "body-v1")
	if notMod.Load() != 1 || rg.last.Load().Header.Get("If-None-Match") != `"v1"` {
		t.Fatalf("backend did not get our validator: 304s=%d", notMod.Load())
	}
	// The 304 refreshed the entry: fresh again for 10s.
	rg.clk.Advance(5 * time.Second)
	expect(t, rg.get(t, "/"), 200, "HIT", "body-v1")
	if st := rg.c.Stats(); st.Revalidated != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRevalidateWithLastModified(t *testing.T) {
	lm := t0.Add(-time.Hour).Format(http.TimeFormat)
	rg := newRig(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1")
		w.Header().Set("Last-Modified", lm)
		if r.Header.Get("If-Modified-Since") == lm {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "lm")
	})
	rg.get(t, "/")
	rg.clk.Advance(2 * time.Second)
	expect(t, rg.get(t, "/"), 200, "REVALIDATED", "lm")
}

func TestNoCacheRevalidatesEveryTime(t *testing.T) {
	var notMod atomic.Int64
	rg := newRig(t, Config{}, validating("no-cache", &notMod))
	expect(t, rg.get(t, "/"), 200, "MISS", "body-v1")
	expect(t, rg.get(t, "/"), 200, "REVALIDATED", "body-v1")
	expect(t, rg.get(t, "/"), 200, "REVALIDATED", "body-v1")
	if notMod.Load() != 2 || rg.calls.Load() != 3 {
		t.Fatalf("304s=%d calls=%d, want 2 and 3", notMod.Load(), rg.calls.Load())
	}
}

func TestRevalidationReplacedByNewContent(t *testing.T) {
	var version atomic.Int64
	rg := newRig(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		etag := fmt.Sprintf(`"v%d"`, version.Load())
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("Etag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, etag)
	})
	rg.get(t, "/")
	version.Store(1)
	rg.clk.Advance(11 * time.Second)
	expect(t, rg.get(t, "/"), 200, "MISS", `"v1"`)
	expect(t, rg.get(t, "/"), 200, "HIT", `"v1"`)
}

func TestClientConditionalFromFreshEntry(t *testing.T) {
	var notMod atomic.Int64
	rg := newRig(t, Config{}, validating("max-age=60", &notMod))
	rg.get(t, "/")
	res := rg.get(t, "/", "If-None-Match", `"x", W/"v1"`)
	expect(t, res, 304, "HIT", "")
	if res.header.Get("Etag") != `"v1"` {
		t.Fatalf("304 lacks ETag: %v", res.header)
	}
	expect(t, rg.get(t, "/", "If-None-Match", `"v0"`), 200, "HIT", "body-v1")
	expect(t, rg.get(t, "/", "If-Modified-Since", t0.Format(http.TimeFormat)), 304, "HIT", "")
	expect(t, rg.get(t, "/", "If-Modified-Since", t0.Add(-2*time.Hour).Format(http.TimeFormat)), 200, "HIT", "body-v1")
	if rg.calls.Load() != 1 {
		t.Fatalf("backend calls = %d, want 1", rg.calls.Load())
	}
}

func TestClientConditionalOnMissStillFills(t *testing.T) {
	var notMod atomic.Int64
	rg := newRig(t, Config{}, validating("max-age=60", &notMod))
	expect(t, rg.get(t, "/", "If-None-Match", `"v1"`), 304, "MISS", "")
	if notMod.Load() != 0 {
		t.Fatal("client's conditional was forwarded: the cache could not fill")
	}
	expect(t, rg.get(t, "/"), 200, "HIT", "body-v1")
}

func TestHead(t *testing.T) {
	rg := newRig(t, Config{}, fixed("max-age=60", "hello"))
	expect(t, rg.do(t, http.MethodHead, "/"), 200, "MISS", "")
	expect(t, rg.do(t, http.MethodHead, "/"), 200, "MISS", "") // HEAD does not fill
	rg.get(t, "/")
	res := rg.do(t, http.MethodHead, "/")
	expect(t, res, 200, "HIT", "")
	if res.header.Get("Content-Length") != "5" {
		t.Fatalf("HEAD hit Content-Length = %q", res.header.Get("Content-Length"))
	}
}

func TestBypassAndInvalidation(t *testing.T) {
	rg := newRig(t, Config{}, fixed("max-age=60", "0123456789"))
	rg.get(t, "/r")
	res := rg.get(t, "/r", "Range", "bytes=0-1")
	if res.header.Get("X-Cache") != "BYPASS" {
		t.Fatalf("Range: X-Cache = %q", res.header.Get("X-Cache"))
	}
	expect(t, rg.get(t, "/r", "Cache-Control", "no-store"), 200, "BYPASS", "0123456789")
	// Request no-cache is ignored on purpose: clients cannot force origin load.
	expect(t, rg.get(t, "/r", "Cache-Control", "no-cache"), 200, "HIT", "0123456789")
	rg.do(t, http.MethodPost, "/r")
	expect(t, rg.get(t, "/r"), 200, "MISS", "0123456789")
}

func TestLRUBoundedAndOrdered(t *testing.T) {
	const max = 64 << 10
	body := strings.Repeat("b", 1000)
	rg := newRig(t, Config{MaxBytes: max}, fixed("max-age=600", body))
	for i := range 500 { // ~600 KB through a 64 KiB cache
		rg.get(t, fmt.Sprintf("/o/%d", i))
		if i == 10 {
			rg.get(t, "/o/0") // keep /o/0 recently used
		}
		if i%10 == 0 {
			rg.get(t, "/o/0")
		}
		if b := rg.c.Stats().Bytes; b > max {
			t.Fatalf("after %d inserts Bytes = %d > %d", i, b, max)
		}
	}
	st := rg.c.Stats()
	if st.Evictions == 0 || st.Entries == 0 || st.Entries > max/1000 {
		t.Fatalf("stats = %+v", st)
	}
	expect(t, rg.get(t, "/o/0"), 200, "HIT", body)   // recently used: kept
	expect(t, rg.get(t, "/o/1"), 200, "MISS", body)  // least recently used: gone
	expect(t, rg.get(t, "/o/499"), 200, "HIT", body) // newest: kept
}

func TestMaxObjectBytesStreamsButDoesNotStore(t *testing.T) {
	big := strings.Repeat("z", 2000)
	rg := newRig(t, Config{MaxBytes: 1 << 20, MaxObjectBytes: 1000}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		// No Content-Length: the tee must notice mid-body.
		for i := 0; i < 4; i++ {
			io.WriteString(w, big[:500])
			w.(http.Flusher).Flush()
		}
	})
	expect(t, rg.get(t, "/"), 200, "MISS", big)
	expect(t, rg.get(t, "/"), 200, "MISS", big)
	if st := rg.c.Stats(); st.Entries != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// The client must see the first chunk while the backend is still writing:
// the tee streams and passes Flush through.
func TestMissStreamsAndFlushes(t *testing.T) {
	release := make(chan struct{})
	rg := newRig(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	})
	resp, err := http.Get(rg.front.URL + "/s")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first := testkit.Streamed(t, func() { close(release) }, func() string { s, _ := br.ReadString('\n'); return s })
	if first != "first\n" {
		t.Fatalf("first line = %q (the tee buffers?)", first)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	expect(t, rg.get(t, "/s"), 200, "HIT", "first\nsecond\n")
}

func coalesce(t *testing.T, cc string) (calls int64, bodies []string, rg *rig) {
	const n = 8
	release := make(chan struct{})
	rg = newRig(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", cc)
		io.WriteString(w, "shared")
	})
	var wg sync.WaitGroup
	bodies = make([]string, n)
	for i := range n {
		wg.Go(func() {
			resp, err := http.Get(rg.front.URL + "/c")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies[i] = string(b)
		})
	}
	// All n requests are in: one at the backend, n-1 waiting on its flight.
	testkit.Eventually(t, "requests to coalesce", func() bool {
		return rg.calls.Load() == 1 && rg.c.Stats().Coalesced == n-1
	})
	close(release)
	wg.Wait()
	return rg.calls.Load(), bodies, rg
}

// Concurrent misses on one key reach the backend once when the answer is
// cacheable; when it is not, each waiter refetches. Every waiter gets the
// backend's body either way.
func TestConcurrentMissesCoalesce(t *testing.T) {
	for _, tc := range []struct {
		cc    string
		calls int64
		hits  int64 // checked when calls is 1: the waiters' hits
	}{
		{cc: "max-age=60", calls: 1, hits: 7},
		{cc: "private", calls: 8}, // uncacheable: each waiter refetches
	} {
		t.Run(tc.cc, func(t *testing.T) {
			calls, bodies, rg := coalesce(t, tc.cc)
			if calls != tc.calls {
				t.Fatalf("backend calls = %d, want %d", calls, tc.calls)
			}
			for _, b := range bodies {
				if b != "shared" {
					t.Fatalf("bodies = %q", bodies)
				}
			}
			if st := rg.c.Stats(); tc.calls == 1 && (st.Hits != tc.hits || st.Misses != 1) {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

// A leader whose next panics (ReverseProxy aborts that way) must release
// its waiters.
func TestLeaderPanicReleasesWaiters(t *testing.T) {
	c := New(Config{}, clock.NewFake(t0))
	entered, release := make(chan struct{}), make(chan struct{})
	go func() {
		defer func() { recover() }()
		c.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil), func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
			panic(http.ErrAbortHandler)
		})
	}()
	<-entered
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		rec := httptest.NewRecorder()
		c.Serve(rec, httptest.NewRequest("GET", "/p", nil), func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		})
		done <- rec
	}()
	testkit.Eventually(t, "waiter", func() bool { return c.Stats().Coalesced == 1 })
	close(release)
	if rec := testkit.Receive(t, done, "the waiter after the leader panicked"); rec.Body.String() != "ok" {
		t.Fatalf("waiter body = %q", rec.Body.String())
	}
}

func TestTruncatedBodyNotStored(t *testing.T) {
	c := New(Config{}, clock.NewFake(t0))
	next := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "short")
	}
	c.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/t", nil), next)
	if st := c.Stats(); st.Entries != 0 {
		t.Fatalf("truncated body stored: %+v", st)
	}
}

// Many goroutines filling, hitting, invalidating and evicting at once: run
// with -race; the byte bound must hold throughout.
func TestConcurrentChurnStaysBounded(t *testing.T) {
	const max = 32 << 10
	c := New(Config{MaxBytes: max}, clock.NewFake(t0))
	next := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, strings.Repeat("x", 300))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				method := "GET"
				if i%50 == 0 {
					method = "DELETE"
				}
				req := httptest.NewRequest(method, fmt.Sprintf("/k/%d", (i*7+g)%97), nil)
				req.Header.Set("Accept-Language", []string{"en", "fr"}[i%2])
				rec := httptest.NewRecorder()
				c.Serve(rec, req, next)
				if method == "GET" && rec.Body.Len() != 300 {
					t.Errorf("body %d bytes", rec.Body.Len())
					return
				}
				if b := c.Stats().Bytes; b > max {
					t.Errorf("Bytes = %d > %d", b, max)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.teeBytes.Load(); n != 0 {
		t.Fatalf("teeBytes = %d after all fetches ended", n)
	}
	if st := c.Stats(); st.Evictions == 0 || st.Hits == 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestTrailersPassThrough(t *testing.T) {
	rg := newRig(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	})
	res, err := http.Get(rg.front.URL + "/tr")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("trailer lost: %v", res.Trailer)
	}
	if rg.c.Stats().Entries != 0 {
		t.Fatal("response with trailers stored (trailers would be lost on hits)")
	}
}

// Copies held by in-progress misses share one MaxBytes budget: when two
// concurrent fills would exceed it, the second streams through uncached.
func TestInFlightCopiesBounded(t *testing.T) {
	gates := map[string]chan struct{}{"/a": make(chan struct{}), "/b": make(chan struct{})}
	half := strings.Repeat("h", 3000)
	rg := newRig(t, Config{MaxBytes: 10000, MaxObjectBytes: 10000}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		// A known length makes the tee reserve the whole body up front.
		w.Header().Set("Content-Length", strconv.Itoa(2*len(half)))
		io.WriteString(w, half)
		w.(http.Flusher).Flush()
		if g := gates[r.URL.Path]; g != nil {
			<-g
		}
		io.WriteString(w, half)
	}, func(p *httputil.ReverseProxy) {
		p.FlushInterval = -1 // flush every write, even with Content-Length
	})
	start := func(path string) (*http.Response, chan string) {
		res, err := http.Get(rg.front.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(res.Body, make([]byte, len(half))); err != nil {
			t.Fatal(err)
		}
		done := make(chan string)
		go func() {
			rest, _ := io.ReadAll(res.Body)
			res.Body.Close()
			done <- string(rest)
		}()
		return res, done
	}
	_, doneA := start("/a") // 6000 reserved
	_, doneB := start("/b") // would make 12000: B gives up storing, still streams
	close(gates["/a"])
	if rest := <-doneA; rest != half {
		t.Fatalf("A rest = %d bytes", len(rest))
	}
	close(gates["/b"])
	if rest := <-doneB; rest != half {
		t.Fatalf("B rest = %d bytes", len(rest))
	}
	delete(gates, "/a")
	delete(gates, "/b")
	// The client has every byte before the handler returns; the
	// reservation is released (after storing) when it does.
	testkit.Eventually(t, "fetches to release their copies", func() bool { return rg.c.teeBytes.Load() == 0 })
	expect(t, rg.get(t, "/a"), 200, "HIT", half+half)
	expect(t, rg.get(t, "/b"), 200, "MISS", half+half)
}
