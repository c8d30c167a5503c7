package headers

import (
	"net/http"
	"strings"
	"testing"
)

type src map[Var]string

func (s src) Value(v Var) string { return s[v] }

func TestApply(t *testing.T) {
	c := Compile(Rules{
		Set:    map[string]string{"x-who": "{subject} via {route}", "X-Ip": "{client_ip}", "X-Path": "{path}"},
		Add:    map[string]string{"X-Tag": "gw-{method}"},
		Remove: []string{"cookie", "X-Who"},
	}, "api", false)
	h := http.Header{"Cookie": {"a=b"}, "X-Who": {"forged"}, "X-Tag": {"client"}}
	c.Apply(h, src{Subject: "alice", ClientIP: "192.0.2.1", Method: "GET", Path: "/a"})
	want := http.Header{"X-Who": {"alice via api"}, "X-Ip": {"192.0.2.1"}, "X-Path": {"/a"}, "X-Tag": {"client", "gw-GET"}}
	if len(h) != len(want) {
		t.Fatalf("got %v, want %v", h, want)
	}
	for k, v := range want {
		if strings.Join(h[k], "|") != strings.Join(v, "|") {
			t.Errorf("%s = %q, want %q", k, h[k], v)
		}
	}
	// A decoded path can hold a line break: never written into a header.
	h = http.Header{"X-Path": {"old"}}
	c.Apply(h, src{Path: "/a\r\nX-Evil: 1"})
	if _, ok := h["X-Path"]; ok {
		t.Errorf("invalid value set: %q", h["X-Path"])
	}
	if Compile(Rules{}, "r", true) != nil {
		t.Error("empty rules compile to a stage")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Request: Rules{Set: map[string]string{"Connection": "close"}}}, "request.set.Connection: Connection is hop-by-hop"},
		{Config{Request: Rules{Set: map[string]string{"te": "trailers"}}}, "hop-by-hop"},
		{Config{Request: Rules{Add: map[string]string{"Proxy-Authorization": "x"}}}, "hop-by-hop"},
		{Config{Response: Rules{Set: map[string]string{"Transfer-Encoding": "chunked"}}}, "response.set.Transfer-Encoding"},
		{Config{Request: Rules{Set: map[string]string{"Host": "evil"}}}, "framing"},
		{Config{Request: Rules{Set: map[string]string{"x-forwarded-proto": "https"}}}, "forwarding"},
		{Config{Request: Rules{Set: map[string]string{"Forwarded": "for=1.2.3.4"}}}, "forwarding"},
		{Config{Request: Rules{Set: map[string]string{"X_Forwarded_For": "1.2.3.4"}}}, "forwarding"},
		{Config{Request: Rules{Add: map[string]string{"x_auth_subject": "root"}}}, "identity header"},
		{Config{Request: Rules{Remove: []string{"x", "X-Auth-Subject"}}}, "request.remove[1]: X-Auth-Subject is the identity header"},
		{Config{Request: Rules{Set: map[string]string{"X-A": "{clientip}"}}}, "unknown placeholder {clientip}"},
		{Config{Request: Rules{Set: map[string]string{"X-A": "{client_ip"}}}, "unclosed"},
		{Config{Request: Rules{Set: map[string]string{"X-A": "{backend}"}}}, "only on responses"},
		{Config{Request: Rules{Set: map[string]string{"X A": "v"}}}, "invalid header name"},
		{Config{Request: Rules{Set: map[string]string{"X-A": "a\nb"}}}, "invalid header value"},
	} {
		err := tc.c.Validate("X-Auth-Subject").Err()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	ok := Config{
		Request:  Rules{Set: map[string]string{"X-Real-IP": "{client_ip}", "X-Id": "{request_id}-{host}"}},
		Response: Rules{Set: map[string]string{"X-Served-By": "{backend}"}, Remove: []string{"Server"}},
	}
	if err := ok.Validate("X-Auth-Subject").Err(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
