package hygiene

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/internal/corpus"
)

func TestCanonicalChecksDoNotAllocate(t *testing.T) {
	rs := NewRules(config.Server{}, []string{"X-Auth-Subject"})
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /v1/users/42?x=1 HTTP/1.1\r\nHost: api.example.com:8080\r\n" +
		"User-Agent: wrk\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nCookie: a=b\r\nX-Request-Id: 123\r\nConnection: keep-alive\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header.Clone()
	n := testing.AllocsPerRun(100, func() {
		clear(r.Header)
		for k, v := range h {
			r.Header[k] = v
		}
		var hop Hop
		if checkHeaders(r, rs, &hop) != nil || checkTarget(r) != nil || checkHost(r) != nil {
			t.Fatal("clean request refused")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per clean request", n)
	}
}

func BenchmarkCanonicalChecks(b *testing.B) {
	rs := NewRules(config.Server{}, []string{"X-Auth-Subject"})
	r, _ := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /v1/users/42?x=1 HTTP/1.1\r\nHost: api.example.com\r\n" +
		"User-Agent: wrk\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nCookie: a=b\r\nX-Request-Id: 123\r\n\r\n")))
	b.ReportAllocs()
	for b.Loop() {
		var hop Hop
		_ = checkHeaders(r, rs, &hop)
		_ = checkTarget(r)
		_ = checkHost(r)
	}
}

// FuzzCanonicalHost: a host that passes is canonical (lower-case, no
// trailing dot, no byte outside the host alphabet) and stays the same
// when checked again, so routing and the backend cannot read it apart.
func FuzzCanonicalHost(f *testing.F) {
	for _, tc := range corpus.Spellings {
		f.Add(tc.Host)
	}
	f.Fuzz(func(t *testing.T, h string) {
		c, ok := canonicalHost(h)
		if !ok {
			return
		}
		if again, ok := canonicalHost(c); !ok || again != c {
			t.Fatalf("canonicalHost(%q) = %q, then %q %v", h, c, again, ok)
		}
		name := c
		if i := strings.LastIndexByte(c, ':'); i >= 0 && !strings.HasSuffix(c, "]") {
			name = c[:i]
		}
		if strings.HasSuffix(name, ".") || strings.ToLower(c) != c || strings.ContainsAny(c, " @%/\\\t\r\n\x00#?") {
			t.Fatalf("canonicalHost(%q) = %q", h, c)
		}
	})
}
