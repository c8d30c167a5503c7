package health

import (
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// Probes of a TLS pool go over the pool's TLS: verified against its CA,
// with its client certificate, and refused when the name is wrong.
func TestCheckerTLS(t *testing.T) {
	ca := testkit.NewCA(t, "test CA")
	start := func(names ...string) *upstream.Backend {
		be := testkit.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ca.Server(names...).TLS, ca)
		return upstream.New(upstream.Spec{ID: names[0], Address: be.Listener.Addr().String()})
	}
	good, wrongName := start("127.0.0.1"), start("other.internal")
	cfg := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{ca.Client("gateway").TLS}}
	c, clk, _ := newTestChecker(t, CheckConfig{HealthyThreshold: 1, UnhealthyThreshold: 1}, WithTLS(cfg))
	c.Update([]*upstream.Backend{good, wrongName})
	probeRound(t, c, clk, good, wrongName)
	assertHealthy(t, c, good, true)
	assertFailedWith(t, c, wrongName, "failed to verify certificate")

	// Without the client certificate the mTLS backend refuses the probe.
	plain := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
	c2, clk2, _ := newTestChecker(t, CheckConfig{HealthyThreshold: 1, UnhealthyThreshold: 1}, WithTLS(plain))
	same := upstream.New(upstream.Spec{ID: "same", Address: good.Addr()}) // c owns good's flags
	c2.Update([]*upstream.Backend{same})
	probeRound(t, c2, clk2, same)
	assertFailedWith(t, c2, same, "certificate")
}
