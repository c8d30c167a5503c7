// Package discovery keeps a pool's membership in step with a source of
// truth: the static config list today, Auto Scaling groups and the local
// autoscaler later. Providers push complete snapshots; Watch drops snapshots
// that change nothing and coalesces bursts, so a flapping source costs one
// in-place membership diff, never a reload (after Traefik's provider and
// configuration watcher).
package discovery

import (
	"context"
	"slices"
	"strings"

	"github.com/drawbridge-dev/drawbridge/internal/backend"
)

// Provider publishes a pool's full membership whenever it may have changed.
type Provider interface {
	// Run calls publish with complete snapshots until ctx ends. publish
	// never blocks; the slice must not be modified after it is passed.
	Run(ctx context.Context, publish func([]backend.Spec)) error
}

// Sink applies a membership snapshot (the gateway's Pool.SetBackends).
type Sink interface {
	SetBackends([]backend.Spec) error
}

// Static is a fixed membership: it publishes once.
type Static []backend.Spec

func (s Static) Run(ctx context.Context, publish func([]backend.Spec)) error {
	publish(slices.Clone(s))
	<-ctx.Done()
	return nil
}

// Watch runs p and applies its snapshots to sink until ctx ends. Only the
// newest pending snapshot is applied, and only when it differs from the
// last one applied (order does not matter). onError, if set, hears about
// snapshots the sink refused; the previous membership then stays.
func Watch(ctx context.Context, p Provider, sink Sink, onError func(error)) error {
	latest := make(chan []backend.Spec, 1)
	publish := func(s []backend.Spec) {
		for {
			select {
			case latest <- s:
				return
			default:
			}
			select { // replace the pending snapshot with the newer one
			case <-latest:
			default:
			}
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx, publish) }()

	var applied []backend.Spec
	first := true
	for {
		select {
		case <-ctx.Done():
			return <-errc
		case err := <-errc:
			return err
		case s := <-latest:
			s = sorted(s)
			if !first && slices.Equal(s, applied) {
				continue
			}
			if err := sink.SetBackends(s); err != nil {
				if onError != nil {
					onError(err)
				}
				continue
			}
			applied, first = s, false
		}
	}
}

func sorted(s []backend.Spec) []backend.Spec {
	out := slices.Clone(s)
	slices.SortFunc(out, func(a, b backend.Spec) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Address, b.Address)
	})
	return out
}
