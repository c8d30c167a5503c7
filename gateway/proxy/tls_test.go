package proxy

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// tlsBackend answers with the client certificate's name ("-": none).
func tlsBackend(t *testing.T, cert tls.Certificate, clientCA *testkit.CA) *httptest.Server {
	return testkit.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := "-"
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		_, _ = w.Write([]byte("tls ok " + cn))
	}), cert, clientCA)
}

func forwardOnce(u *Upstream) (*httptest.ResponseRecorder, Result) {
	w := httptest.NewRecorder()
	res := u.Forward(w, httptest.NewRequest("GET", "/", nil), &Attempt{URI: "/"})
	return w, res
}

func TestTLSBackends(t *testing.T) {
	ca := testkit.NewCA(t, "test CA")
	other := testkit.NewCA(t, "unknown CA")
	trust := func(c *tls.Config) *tls.Config {
		c.RootCAs, c.MinVersion = ca.Pool, tls.VersionTLS12
		return c
	}
	client := ca.Client("gateway")
	cases := []struct {
		name    string
		backend *httptest.Server
		cfg     *tls.Config
		want    string // body; "" = refused with this error text in refuse
		refuse  string
	}{
		{"verified by the CA, name from the address", tlsBackend(t, ca.Server("127.0.0.1").TLS, nil), trust(&tls.Config{}), "tls ok -", ""},
		{"server_name overrides", tlsBackend(t, ca.Server("api.internal").TLS, nil), trust(&tls.Config{ServerName: "api.internal"}), "tls ok -", ""},
		{"wrong name", tlsBackend(t, ca.Server("other.internal").TLS, nil), trust(&tls.Config{}), "", "127.0.0.1"},
		{"wrong server_name", tlsBackend(t, ca.Server("127.0.0.1").TLS, nil), trust(&tls.Config{ServerName: "api.internal"}), "", "api.internal"},
		{"unknown CA", tlsBackend(t, other.Server("127.0.0.1").TLS, nil), trust(&tls.Config{}), "", "unknown authority"},
		{"mTLS with the client cert", tlsBackend(t, ca.Server("127.0.0.1").TLS, ca), trust(&tls.Config{Certificates: []tls.Certificate{client.TLS}}), "tls ok gateway", ""},
		{"mTLS without a client cert", tlsBackend(t, ca.Server("127.0.0.1").TLS, ca), trust(&tls.Config{}), "", "certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := NewUpstream(tc.backend.Listener.Addr().String(), Options{TLS: tc.cfg})
			defer u.Close()
			for i := 0; i < 3; i++ { // the later tries reuse the pooled TLS connection
				w, res := forwardOnce(u)
				if tc.want == "" {
					// In TLS 1.3 the server judges the client certificate after
					// the client's handshake is done: a refusal then arrives
					// as the first read's error (ErrProtocol). Both are 502s.
					if (res.Kind != ErrConnect && res.Kind != ErrProtocol) || res.HeadersSent || res.Err == nil || !strings.Contains(res.Err.Error(), tc.refuse) {
						t.Fatalf("want a refused connection mentioning %q, got %+v", tc.refuse, res)
					}
					return
				}
				if res.Err != nil || w.Code != 200 || w.Body.String() != tc.want {
					t.Fatalf("try %d: %+v %d %q", i, res, w.Code, w.Body.String())
				}
			}
		})
	}
}

// A plain pool's upstream must not speak TLS, and a TLS one must not fall
// back to plain against a plain backend.
func TestTLSUpstreamAgainstPlainBackend(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer be.Close()
	ca := testkit.NewCA(t, "test CA")
	u := NewUpstream(be.Listener.Addr().String(), Options{TLS: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}})
	defer u.Close()
	if _, res := forwardOnce(u); res.Kind != ErrConnect {
		t.Fatalf("TLS to a plain backend: %+v", res)
	}
}

// Protocol h2: HTTP/2 negotiated over verified TLS, never a downgrade.
func TestH2OverTLS(t *testing.T) {
	ca := testkit.NewCA(t, "test CA")
	start := func(h2 bool, names ...string) string {
		be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(r.Proto))
		}))
		be.EnableHTTP2 = h2
		be.Config.ErrorLog = log.New(io.Discard, "", 0)
		be.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(names...).TLS}}
		be.StartTLS()
		t.Cleanup(be.Close)
		return be.Listener.Addr().String()
	}
	opts := Options{H2C: true, TLS: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}}

	// Protocol https offers only http/1.1, so a backend that prefers h2
	// still answers the HTTP/1.1 exchange engine in HTTP/1.1.
	h1 := NewUpstream(start(true, "127.0.0.1"), Options{TLS: opts.TLS})
	defer h1.Close()
	if w, res := forwardOnce(h1); res.Err != nil || w.Body.String() != "HTTP/1.1" {
		t.Fatalf("https to an h2-capable backend: %+v %q", res, w.Body.String())
	}
	for _, tc := range []struct {
		name, addr, want string
	}{
		{"h2 backend", start(true, "127.0.0.1"), "HTTP/2.0"},
		{"wrong name", start(true, "other.internal"), ""},
		{"HTTP/1.1-only backend", start(false, "127.0.0.1"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := NewUpstream(tc.addr, opts)
			defer u.Close()
			w, res := forwardOnce(u)
			if tc.want == "" {
				if res.Err == nil || res.HeadersSent {
					t.Fatalf("want refused, got %+v %q", res, w.Body.String())
				}
				return
			}
			if res.Err != nil || w.Body.String() != tc.want {
				t.Fatalf("%+v %q", res, w.Body.String())
			}
		})
	}
}

// TLS connections are kept alive and reused like plain ones: the TLS 1.3
// session tickets that follow the handshake must not make an idle
// connection look unsafe to reuse.
func TestTLSConnReused(t *testing.T) {
	ca := testkit.NewCA(t, "test CA")
	var mu sync.Mutex
	peers := map[string]bool{}
	be := testkit.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		peers[r.RemoteAddr] = true
		mu.Unlock()
	}), ca.Server("127.0.0.1").TLS, nil)
	u := NewUpstream(be.Listener.Addr().String(), Options{TLS: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}})
	defer u.Close()
	for i := 0; i < 5; i++ {
		if _, res := forwardOnce(u); res.Err != nil {
			t.Fatalf("try %d: %+v", i, res)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(peers) != 1 {
		t.Fatalf("5 sequential requests used %d connections, want 1", len(peers))
	}
}
