// Package actuator changes the capacity of backend groups: AWS EC2 Auto
// Scaling groups, local `drawbridge backend` processes, or nothing at all
// (dry run).
package actuator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// DryRun only logs what it would do. It remembers the desired capacity it
// was asked for, so a dry-run daemon shows how the group would evolve, and
// reports every instance as in service.
type DryRun struct {
	log *slog.Logger

	mu     sync.Mutex
	groups map[string]autoscaler.GroupState
}

// NewDryRun starts each group at its initial state (Desired, Min, Max).
func NewDryRun(log *slog.Logger, initial ...autoscaler.GroupState) *DryRun {
	d := &DryRun{log: log, groups: map[string]autoscaler.GroupState{}}
	for _, g := range initial {
		g.InService = g.Desired
		d.groups[g.Name] = g
	}
	return d
}

func (d *DryRun) Describe(_ context.Context, group string) (autoscaler.GroupState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[group]
	if !ok {
		return autoscaler.GroupState{}, fmt.Errorf("dry run: unknown group %q", group)
	}
	return g, nil
}

func (d *DryRun) SetDesired(_ context.Context, group string, desired int, reason string) error {
	d.mu.Lock()
	g, ok := d.groups[group]
	if ok {
		desired = Clip(desired, g.Min, g.Max)
		g.Desired, g.InService = desired, desired
		d.groups[group] = g
	}
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("dry run: unknown group %q", group)
	}
	d.log.Info("dry run: would set desired capacity", "group", group, "desired", desired, "reason", reason)
	return nil
}
