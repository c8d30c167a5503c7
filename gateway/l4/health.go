package l4

import (
	"context"
	"net"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/health"
	"github.com/drawbridge-dev/drawbridge/gateway/mqtt"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// newChecker runs TCP connect checks through the gateway's health checker:
// the same scheduling, hysteresis and slow start as the HTTP checks, with a
// probe that passes when a connection opens.
//
// In mqtt mode the probe speaks MQTT instead (mqtt.Probe).
func newChecker(name string, cfg HealthConfig, address string, mqttMode bool, clk clock.Clock, slowStart time.Duration,
	onChange func(*upstream.Backend, bool, string)) *health.Checker {
	at := func(b *upstream.Backend) string { return probeAddr(address, b) }
	probe := health.TCPConnect(at)
	if mqttMode {
		probe = func(ctx context.Context, b *upstream.Backend) error { return mqtt.Probe(ctx, at(b)) }
	}
	return health.NewChecker(name, health.CheckConfig{
		Interval: cfg.Interval, Timeout: cfg.Timeout,
		HealthyThreshold: cfg.HealthyThreshold, UnhealthyThreshold: cfg.UnhealthyThreshold,
	}, clk,
		health.WithProbe(probe),
		health.WithSlowStart(slowStart), health.WithOnChange(onChange))
}

// probeAddr is where b is checked: its own address, or the configured
// address (whose empty host means b's host).
func probeAddr(address string, b *upstream.Backend) string {
	if address == "" {
		return b.Addr()
	}
	host, port, _ := net.SplitHostPort(address) // validated by New
	if host == "" {
		host, _, _ = net.SplitHostPort(b.Addr())
	}
	return net.JoinHostPort(host, port)
}
