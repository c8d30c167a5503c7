package gateway

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// A client that leaves while its request waits on the backend ends the
// backend's work under either engine, long before the response_header
// timeout: net/http cancels the request context from its background read;
// h1, which has none, has the proxy look at the client connection every
// second while it waits (proxy.awaitResponse), and closes the backend
// connection, which cancels the backend's request.
func TestClientLeavingEndsBackendWork(t *testing.T) {
	var started, ended atomic.Int32
	release := make(chan struct{})
	be := testkit.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		select {
		case <-r.Context().Done():
			ended.Add(1)
		case <-release: // the test is over
		}
	}))
	t.Cleanup(func() { close(release) })
	for _, engine := range []string{config.EngineH1, config.EngineNetHTTP} {
		t.Run(engine, func(t *testing.T) {
			started.Store(0)
			ended.Store(0)
			c, err := net.Dial("tcp", engineGateway(t, engine, "timeouts: {response_header: 10m}", be.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, proxiedGET); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "the backend to have the request", func() bool { return started.Load() == 1 })
			c.Close()
			testkit.Eventually(t, "the backend's request to end", func() bool { return ended.Load() == 1 })
		})
	}
}
