package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// h2cClient speaks HTTP/2 with prior knowledge over cleartext.
func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}

func TestH2CBothWays(t *testing.T) {
	seen := make(chan string, 1)
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- fmt.Sprintf("%s te=%s", r.Proto, r.Header.Get("Te"))
		w.Header().Set("Trailer", "Grpc-Status")
		_, _ = w.Write([]byte("over h2c"))
		w.Header().Set("Grpc-Status", "0")
	}))
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	be.Config.Protocols = p
	be.Start()
	t.Cleanup(be.Close)

	_, gw := startGateway(t, parseConfig(t, poolConfigAddrs("protocol: h2c", be.Listener.Addr().String())), Options{})
	req, _ := http.NewRequest("POST", gw.URL+"/svc.Echo/Call", nil)
	req.Header.Set("Te", "trailers") // gRPC's end-to-end TE
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || string(body) != "over h2c" {
		t.Fatalf("client side: %s %q", resp.Proto, body)
	}
	if got := <-seen; got != "HTTP/2.0 te=trailers" {
		t.Fatalf("backend saw %q", got)
	}
	if resp.Trailer.Get("Grpc-Status") != "0" {
		t.Fatalf("trailer lost: %v", resp.Trailer)
	}
}
