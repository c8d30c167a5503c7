package gateway_test

import (
	"context"

	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/server"
)

// init hands the internal tests the real server (see runner_test.go).
func init() {
	gateway.RunServer = func(ctx context.Context, r *gateway.Runner) error {
		sr := &server.Runner{ConfigPath: r.ConfigPath, Config: r.Config, Options: r.Options, Reload: r.Reload}
		if r.Ready != nil {
			sr.Ready = func(l server.Listeners, g *gateway.Gateway) { r.Ready(gateway.Listeners(l), g) }
		}
		return sr.Run(ctx)
	}
}
