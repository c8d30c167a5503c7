package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
	"golang.org/x/net/websocket"
)

// echoUpgrade switches to a line protocol that answers each line upper-cased.
func echoUpgrade(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "echo" {
		_, _ = w.Write([]byte("plain"))
		return
	}
	c, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Echo: yes\r\n\r\n")
	_ = brw.Flush()
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		_, _ = brw.WriteString(strings.ToUpper(line))
		_ = brw.Flush()
	}
}

func openTunnel(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := testkit.Dial(t, addr)
	_, _ = io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "echo" || resp.Header.Get("X-Echo") != "yes" {
		t.Fatalf("upgrade answered %d %v", resp.StatusCode, resp.Header)
	}
	return c, br
}

func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, msg string) string {
	t.Helper()
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "write: " + err.Error()
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return "read: " + err.Error()
	}
	return strings.TrimSpace(line)
}

func TestUpgradedConnectionsFollowTheirBackend(t *testing.T) {
	be := startHandlerBackend(t, http.HandlerFunc(echoUpgrade))
	other := startBackends(t, 1)[0]
	echoRoute := func(yaml string) string { return withRouteKeys(yaml, "upgrade: [echo]") }
	g, gw := startGateway(t, parseConfig(t, echoRoute(poolConfig("", be))), Options{})
	addr := gw.Listener.Addr().String()

	c, br := openTunnel(t, addr)
	defer c.Close()
	if got := roundTrip(t, c, br, "hello"); got != "HELLO" {
		t.Fatalf("through the tunnel: %q", got)
	}
	// A reload that keeps the backend (another strategy, another backend
	// added) leaves the tunnel alone.
	if err := g.Apply(parseConfig(t, echoRoute(poolConfig("strategy: least_connections", be, other)))); err != nil {
		t.Fatal(err)
	}
	if got := roundTrip(t, c, br, "still here"); got != "STILL HERE" {
		t.Fatalf("after a reload keeping the backend: %q", got)
	}
	// Removing the backend ends its tunnels.
	if err := g.Apply(parseConfig(t, echoRoute(poolConfig("", other)))); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "tunnel closed with its backend", func() bool {
		_, err := io.WriteString(c, "x\n")
		if err != nil {
			return true
		}
		_, err = br.ReadString('\n')
		return err != nil
	})
}

func TestRefusedUpgradeClosesTheConnection(t *testing.T) {
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("no upgrade here"))
	}))
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	c := testkit.Dial(t, gw.Listener.Addr().String())
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("refused upgrade: %d close=%v", resp.StatusCode, resp.Close)
	}
}

func TestWebSocketThroughGateway(t *testing.T) {
	be := startHandlerBackend(t, websocket.Handler(func(ws *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(ws, &msg) == nil {
			_ = websocket.Message.Send(ws, "echo: "+msg)
		}
	}))
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	wsURL := "ws" + strings.TrimPrefix(gw.URL, "http") + "/ws"
	ws, err := websocket.Dial(wsURL, "", gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, m := range []string{"one", "two", strings.Repeat("big", 20000)} {
		if err := websocket.Message.Send(ws, m); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil || got != "echo: "+m {
			t.Fatalf("websocket echo: %v %.40q", err, got)
		}
	}
}
