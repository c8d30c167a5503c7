// Package health decides which backends may take traffic: active HTTP checks
// with hysteresis (Checker) and passive outlier ejection driven by the
// proxy's own responses (Outlier). Both only flip flag bits on the shared
// upstream.Backend state (FlagUnhealthy, FlagEjected); the balancer reads
// those bits lock-free. All scheduling goes through an injected clock.Clock,
// so tests drive time with clock.Fake instead of sleeping.
package health

import (
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// ChangeFunc is told when a backend's health changes: healthy is the new
// state and reason says why, for logs and metrics. Calls for one backend
// arrive in order; calls for different backends may run concurrently. It
// must not call the Stop of the component that invoked it.
type ChangeFunc func(b *upstream.Backend, healthy bool, reason string)

// DefaultSlowStart is the ramp a backend gets when it comes back from an
// unhealthy or ejected state, unless WithSlowStart says otherwise.
const DefaultSlowStart = 30 * time.Second

// Option tunes a Checker or an Outlier. Options that do not apply to the
// component they are given to are ignored.
type Option func(*options)

type options struct {
	slowStart time.Duration
	onChange  ChangeFunc
	jitter    time.Duration // < 0: one full Interval
}

func buildOptions(opts []Option) options {
	o := options{slowStart: DefaultSlowStart, jitter: -1}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithSlowStart sets the slow-start window started on a backend that
// recovers (and, for a Checker, on members added after the first Update).
// Zero disables slow start.
func WithSlowStart(window time.Duration) Option {
	return func(o *options) { o.slowStart = max(window, 0) }
}

// WithOnChange installs the health-change hook.
func WithOnChange(fn ChangeFunc) Option {
	return func(o *options) { o.onChange = fn }
}

// WithInitialJitter bounds the random delay before a new member's first
// probe (Checker only). The default is one full Interval, which spreads the
// probes of a large pool evenly instead of firing them in lockstep; zero
// probes at once.
func WithInitialJitter(maxDelay time.Duration) Option {
	return func(o *options) { o.jitter = max(maxDelay, 0) }
}
