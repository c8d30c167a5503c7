// Package health decides which backends may take traffic: active HTTP checks
// with hysteresis (Checker) and passive outlier ejection driven by the
// proxy's own responses (Outlier). Both only flip flag bits on the shared
// upstream.Backend state (FlagUnhealthy, FlagEjected); the balancer reads
// those bits lock-free. All scheduling goes through an injected clock.Clock,
// so tests drive time with clock.Fake instead of sleeping.
package health

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// ChangeFunc is told when a backend's health changes: healthy is the new
// state and reason says why, for logs and metrics. Calls for one backend
// arrive in order; calls for different backends may run concurrently. It
// must not call the Stop of the component that invoked it.
type ChangeFunc func(b *upstream.Backend, healthy bool, reason string)

// PanicFunc is told when a Checker's pool enters (panic true) or leaves
// its panic mode, with the counts it was judged on. It runs under the
// Checker's lock: it must not call the Checker.
type PanicFunc func(panic bool, healthy, total int)

// WithPanicChange sets the function told about panic mode (Checker only).
func WithPanicChange(fn PanicFunc) Option {
	return func(o *options) { o.onPanic = fn }
}

// DefaultSlowStart is the ramp a backend gets when it comes back from an
// unhealthy or ejected state, unless WithSlowStart says otherwise.
const DefaultSlowStart = 30 * time.Second

// Option tunes a Checker or an Outlier. Options that do not apply to the
// component they are given to are ignored.
type Option func(*options)

type options struct {
	slowStart time.Duration
	onChange  ChangeFunc
	onPanic   PanicFunc
	jitter    time.Duration // < 0: one full Interval
	probe     ProbeFunc     // nil: HTTP GET of CheckConfig.Path
	host      string        // Host header of HTTP probes; "": the address
	tls       *tls.Config   // nil: probes over plain HTTP
	decay     time.Duration // Outlier: forgive one ejection per this long un-ejected
}

// WithTLS probes over HTTPS with c (the pool's backend TLS); nil keeps
// plain HTTP (Checker only).
func WithTLS(c *tls.Config) Option {
	return func(o *options) { o.tls = c }
}

// WithHost sends host as the Host header of the HTTP probes instead of the
// backend's address (Checker only).
func WithHost(host string) Option {
	return func(o *options) { o.host = host }
}

// DefaultDecay is how long a returned backend must stay un-ejected to have
// its ejection count lowered by one (and again for each further interval),
// so a backend that behaves is forgiven, unless WithDecay says otherwise.
const DefaultDecay = 30 * time.Second

// WithDecay sets the Outlier's forgiveness interval; <= 0 keeps the default.
func WithDecay(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.decay = d
		}
	}
}

// ProbeFunc checks one backend once; nil means it passed. The Checker
// bounds it by CheckConfig.Timeout through ctx.
type ProbeFunc func(ctx context.Context, b *upstream.Backend) error

// WithProbe replaces the HTTP probe (Checker only): the scheduling,
// thresholds and slow start stay the same. The L4 listeners use it with
// TCPConnect.
func WithProbe(fn ProbeFunc) Option {
	return func(o *options) { o.probe = fn }
}

// TCPConnect is a probe that passes when a TCP connection to addr(b)
// opens; nil addr checks the backend's own address.
func TCPConnect(addr func(*upstream.Backend) string) ProbeFunc {
	var d net.Dialer
	return func(ctx context.Context, b *upstream.Backend) error {
		a := b.Addr()
		if addr != nil {
			a = addr(b)
		}
		c, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func buildOptions(opts []Option) options {
	o := options{slowStart: DefaultSlowStart, jitter: -1, decay: DefaultDecay}
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
