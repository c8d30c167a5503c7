package gateway

import (
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/internal/hostile"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// hostileExchange sends raw on a new connection and reads one response to
// a request of method.
func hostileExchange(t *testing.T, addr, raw, method string) (int, string) {
	t.Helper()
	code, body := testkit.RawRoundTrip(t, addr, raw, method)
	if code == 0 {
		t.Fatalf("response to %q: %s", raw, body)
	}
	return code, body
}

// Through the whole gateway: whatever one backend exchange leaves behind,
// the next clients (new connections, POSTs that are not retried) get their
// own responses (issue 10, classes 1 and 3).
func TestGatewayHostileBackendDoesNotReachNextClient(t *testing.T) {
	const ws = "GET /trigger HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	cases := []struct {
		name   string
		bad    hostile.Script
		method string
		req    string
		status int
		after  func(*hostile.Server)
	}{
		{name: "body on HEAD", bad: hostile.BodyOnHEAD, method: "HEAD", status: 200},
		{name: "body on 204", bad: hostile.BodyOn204, status: 204},
		{name: "bytes past Content-Length", bad: hostile.ExtraAfterLength, status: 200},
		{name: "bytes after the last chunk", bad: hostile.ExtraAfterLastChunk, status: 200},
		{name: "bytes while idle", bad: hostile.Echo, status: 200,
			after: func(srv *hostile.Server) { srv.Conn(1).Write(hostile.Smuggled) }},
		{name: "bare CR in a header value", bad: hostile.BareCRInHeader, status: 502},
		{name: "101 h2c to a websocket request", bad: hostile.Switch("h2c"), req: ws, status: 502},
		{name: "101 to an unasked protocol", bad: hostile.Switch("foo"), req: ws, status: 502},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := hostile.Start(t, hostile.Split("/trigger", tc.bad))
			_, gw := startGateway(t, parseConfig(t, poolConfigAddrs("", srv.Addr())), Options{})
			addr := gw.Listener.Addr().String()
			method, req := tc.method, tc.req
			if method == "" {
				method = "GET"
			}
			if req == "" {
				req = method + " /trigger HTTP/1.1\r\nHost: gw\r\n\r\n"
			}
			if code, body := hostileExchange(t, addr, req, method); code != tc.status || strings.Contains(body, "SMUGGLED") {
				t.Fatalf("client 1: %d %q, want %d", code, body, tc.status)
			}
			if tc.after != nil {
				tc.after(srv)
			}
			for _, target := range []string{"/client2", "/client3"} {
				code, body := hostileExchange(t, addr, "POST "+target+" HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\n\r\ndata", "POST")
				if code != 200 || body != "echo "+target {
					t.Fatalf("%s got %d %q, want its own echo", target, code, body)
				}
			}
		})
	}
}
