package gateway

import (
	"context"
	"net"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

// The daemon around a gateway is server.Runner, and package server imports
// this one, so these internal tests cannot name it. They run it through
// Runner below, a mirror of its fields; server_hook_test.go, an external
// test file of this directory (which may import server), sets RunServer.
// The tests stay beside the harness they share with the request-path tests.

// Runner mirrors server.Runner.
type Runner struct {
	ConfigPath string
	Config     *config.Config
	Options    Options
	Reload     <-chan struct{}
	Ready      func(l Listeners, g *Gateway)
}

// Listeners mirrors server.Listeners.
type Listeners struct {
	HTTP, HTTPS, Admin net.Addr
}

// RunServer runs r as server.Runner.Run does.
var RunServer func(ctx context.Context, r *Runner) error

func (r *Runner) Run(ctx context.Context) error { return RunServer(ctx, r) }
