package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/gateway/compress"
	"github.com/drawbridge-dev/drawbridge/gateway/ratelimit"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
)

// serve runs h for one request and settles its outcome as the gateway does.
func serve(t *testing.T, h Handler, r *http.Request) (*httptest.ResponseRecorder, *Request) {
	t.Helper()
	w := httptest.NewRecorder()
	q := new(Request)
	q.Reset(w, r, time.Unix(0, 0))
	q.Settle(h.Serve(q))
	return w, q
}

// reached is a forward that answers 200 and counts its calls.
type reached struct{ n int }

func (f *reached) Serve(q *Request) error {
	f.n++
	q.W.WriteHeader(http.StatusOK)
	q.Status = http.StatusOK
	return nil
}

func newLimiter(t *testing.T, burst int) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(ratelimit.Config{Rate: 0.001, Burst: burst}, clock.NewFake(time.Unix(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func apiKeyAuth(t *testing.T) *auth.Authenticator {
	t.Helper()
	sum := sha256.Sum256([]byte("good-key"))
	a, err := auth.New(auth.Config{APIKeys: &auth.APIKeyConfig{Keys: map[string]string{"alice": hex.EncodeToString(sum[:])}}}, clock.NewFake(time.Unix(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func get(key string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.test/x", nil)
	r.RemoteAddr = "192.0.2.7:4000"
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	return r
}

func TestAccessRefusesBeforeAuth(t *testing.T) {
	f := &reached{}
	h, err := Build(Route{Access: AccessConfig{Methods: []string{"GET"}, DenyCIDRs: []string{"198.51.100.0/24"}}, Auth: apiKeyAuth(t)}, f)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "http://example.test/x", nil)
	w, q := serve(t, h, r)
	if w.Code != http.StatusMethodNotAllowed || q.Status != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET" {
		t.Fatalf("POST: got %d (recorded %d, Allow %q), want 405 with Allow: GET", w.Code, q.Status, w.Header().Get("Allow"))
	}
	if w.Header().Get("WWW-Authenticate") != "" || q.Authenticated {
		t.Fatal("auth ran for a request the access rules refused")
	}
	r = get("good-key")
	r.RemoteAddr = "198.51.100.9:1"
	if w, q = serve(t, h, r); w.Code != http.StatusForbidden || q.Reason != "forbidden" {
		t.Fatalf("denied address: got %d %q, want 403 forbidden", w.Code, q.Reason)
	}
	if _, err := NewAccess(AccessConfig{AllowCIDRs: []string{"not-a-cidr"}}, f); err == nil {
		t.Fatal("NewAccess accepted an invalid CIDR")
	}
	if f.n != 0 {
		t.Fatalf("forward reached %d times, want 0", f.n)
	}
}

func TestFailureLimitChargesOnlyWrongCredentials(t *testing.T) {
	f := &reached{}
	h, err := Build(Route{Auth: apiKeyAuth(t), FailureLimit: newLimiter(t, 1)}, f)
	if err != nil {
		t.Fatal(err)
	}
	// No credentials guesses nothing: not charged.
	for range 3 {
		if w, _ := serve(t, h, get("")); w.Code != http.StatusUnauthorized {
			t.Fatalf("no credentials: got %d, want 401", w.Code)
		}
	}
	if w, q := serve(t, h, get("wrong")); w.Code != http.StatusUnauthorized || q.Status != http.StatusUnauthorized {
		t.Fatalf("wrong key: got %d, want 401", w.Code)
	}
	w, q := serve(t, h, get("good-key"))
	if w.Code != http.StatusTooManyRequests || q.Rejected != "auth_failures" || q.Reason != "too many failed authentications" {
		t.Fatalf("after a failure with burst 1: got %d %q %q, want 429 auth_failures", w.Code, q.Rejected, q.Reason)
	}
	if f.n != 0 {
		t.Fatalf("forward reached %d times, want 0", f.n)
	}
}

func TestRateLimitByIdentity(t *testing.T) {
	key, err := ratelimit.ParseKey("identity")
	if err != nil {
		t.Fatal(err)
	}
	f := &reached{}
	h, err := Build(Route{Auth: apiKeyAuth(t), RateLimit: newLimiter(t, 1), RateKey: key, ByIdentity: true}, f)
	if err != nil {
		t.Fatal(err)
	}
	// A success takes from the subject's bucket, not the address's.
	if w, q := serve(t, h, get("good-key")); w.Code != http.StatusOK || q.Identity != "alice" {
		t.Fatalf("first: got %d identity %q, want 200 alice", w.Code, q.Identity)
	}
	if w, q := serve(t, h, get("good-key")); w.Code != http.StatusTooManyRequests || q.Rejected != "rate_limit" {
		t.Fatalf("second for alice: got %d %q, want 429 rate_limit", w.Code, q.Rejected)
	}
	// A failure is charged to the address; the address is refused next,
	// before its credentials are checked.
	if w, _ := serve(t, h, get("wrong")); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong key: got %d, want 401", w.Code)
	}
	if w, q := serve(t, h, get("wrong")); w.Code != http.StatusTooManyRequests || q.Authenticated {
		t.Fatalf("address spent: got %d (auth ran: %v), want 429 before auth", w.Code, q.Authenticated)
	}
	if f.n != 1 {
		t.Fatalf("forward reached %d times, want 1", f.n)
	}
}

func TestNoIdentityRemovesClientsOwn(t *testing.T) {
	var got []string
	h, err := Build(Route{IdentityHeader: "X-Auth-Subject"}, HandlerFunc(func(q *Request) error {
		got = q.R.Header["X-Auth-Subject"]
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := get("")
	r.Header.Set("X-Auth-Subject", "admin")
	if _, q := serve(t, h, r); got != nil || q.Status != http.StatusOK {
		t.Fatalf("identity header reached the forward: %q (status %d)", got, q.Status)
	}
}

func TestBulkheadRefusesBeyondCapacity(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	inside, release := make(chan struct{}), make(chan struct{})
	h, err := Build(Route{Bulkhead: resilience.NewBulkhead(1, 0, 0, clk)}, HandlerFunc(func(q *Request) error {
		close(inside)
		<-release
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); serve(t, h, get("")) }()
	<-inside
	w, q := serve(t, h, get(""))
	close(release)
	<-done
	if w.Code != http.StatusServiceUnavailable || q.Rejected != "route_concurrency" || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("second while the first holds the only slot: got %d %q, want 503 route_concurrency with Retry-After", w.Code, q.Rejected)
	}
}

func TestDeadlineBoundsTheRequest(t *testing.T) {
	var client, bounded bool
	h, err := Build(Route{Timeout: time.Hour}, HandlerFunc(func(q *Request) error {
		_, bounded = q.R.Context().Deadline()
		_, client = q.Client.Deadline()
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	serve(t, h, get(""))
	if !bounded || client {
		t.Fatalf("deadline on the request: %v, on the client's context: %v; want true, false", bounded, client)
	}
}

func TestCountRecordsWhatContentStagesWrite(t *testing.T) {
	body := strings.Repeat("compressible ", 200)
	h, err := Build(Route{Compress: compress.New(compress.Config{})}, HandlerFunc(func(q *Request) error {
		q.W.Header().Set("Content-Type", "text/plain")
		q.W.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(q.W, body)
		q.Status, q.Bytes = http.StatusOK, int64(len(body)) // what a forward saw
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := get("")
	r.Header.Set("Accept-Encoding", "gzip")
	w, q := serve(t, h, r)
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatal("response not compressed")
	}
	if q.Status != http.StatusCreated || q.Bytes != int64(w.Body.Len()) {
		t.Fatalf("recorded %d, %d bytes; want 201, %d bytes (as written to the client)", q.Status, q.Bytes, w.Body.Len())
	}
}

func TestSettle(t *testing.T) {
	q := &Request{}
	q.Settle(nil)
	if q.Status != http.StatusOK {
		t.Fatalf("no error, no status: got %d, want 200", q.Status)
	}
	q = &Request{Status: 200}
	q.Settle(&Error{Status: 499, Reason: "client gone", Rejected: "x"})
	if q.Status != 499 || q.Reason != "client gone" || q.Rejected != "x" {
		t.Fatalf("an *Error decides the outcome: got %+v", q)
	}
}
