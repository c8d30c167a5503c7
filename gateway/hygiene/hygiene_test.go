package hygiene

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/internal/corpus"
)

func TestFramingGuardFollowsMessageBoundaries(t *testing.T) {
	g := newGuardConn(nil)
	lookalike := "POST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	stream := "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(lookalike)) + "\r\n\r\n" + lookalike +
		"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: v\r\n\r\n" +
		"\r\nGET /c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /d HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tfolded\r\n\r\n"
	// Feed it in awkward pieces, as TCP may deliver it.
	for i := 0; i < len(stream); i += 7 {
		g.scan([]byte(stream[i:min(i+7, len(stream))]))
	}
	want := []verdictKind{vClean, vClean, vAmbiguous, vObsFold}
	if len(g.q) != len(want) {
		t.Fatalf("verdicts %+v, want %+v", g.q, want)
	}
	for i := range want {
		if g.q[i].kind != want[i] {
			t.Fatalf("verdict %d = %+v, want %+v (all: %+v)", i, g.q[i], want[i], g.q)
		}
	}
}

// FuzzRequestValidation feeds arbitrary bytes, split at an arbitrary
// point, to the framing guard, and arbitrary paths to normalisation:
// nothing may panic, cleaned paths stay absolute without dot segments, and
// a guard that is still following the stream reports a clean request
// that follows as clean.
func FuzzRequestValidation(f *testing.F) {
	for _, tc := range corpus.Smuggle {
		f.Add(tc.Raw, uint8(7), "/a/../b")
	}
	f.Add("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", uint8(3), "/%2e%2e/x//y/")
	f.Fuzz(func(t *testing.T, raw string, split uint8, path string) {
		g := newGuardConn(nil)
		cut := int(split) % (len(raw) + 1)
		g.scan([]byte(raw[:cut]))
		g.scan([]byte(raw[cut:]))
		if g.state == gHead && g.first && g.lineLen == 0 && g.pre < 0 {
			before := len(g.q)
			g.scan([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			if len(g.q) != before+1 || g.q[before].kind != vClean {
				t.Fatalf("clean request after %q judged %+v", raw, g.q[before:])
			}
		}
		r := &http.Request{URL: &url.URL{Path: path}, RequestURI: "/"}
		normalizePath(r)
		if p := r.URL.Path; p != "" && p != "*" && (p[0] != '/' || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "//")) {
			t.Fatalf("normalizePath(%q) = %q", path, p)
		}
	})
}
