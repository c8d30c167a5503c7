package actuator

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// ASGAPI is the part of the Auto Scaling client the actuator uses.
type ASGAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, optFns ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error)
}

// AWS drives EC2 Auto Scaling groups. Retries with back-off on throttling
// and 5xx are the client's job (see awsclient.Retryer).
type AWS struct {
	api ASGAPI
	// names maps a drawbridge group to its ASG name; a group without an
	// entry uses its own name.
	names map[string]string

	mu     sync.Mutex
	bounds map[string][2]int // last seen [min, max] per group
}

// NewAWS returns an actuator for the given ASG names (group -> ASG name).
func NewAWS(api ASGAPI, names map[string]string) *AWS {
	if names == nil {
		names = map[string]string{}
	}
	return &AWS{api: api, names: names, bounds: map[string][2]int{}}
}

// NewAWSFromConfig builds the Auto Scaling client from cfg (which carries
// region, endpoint override and retryer).
func NewAWSFromConfig(cfg aws.Config, names map[string]string) *AWS {
	return NewAWS(autoscaling.NewFromConfig(cfg), names)
}

// Names is the group -> ASG name map, for wiring several groups to one
// client before first use.
func (a *AWS) Names() map[string]string { return a.names }

func (a *AWS) asgName(group string) string {
	if n := a.names[group]; n != "" {
		return n
	}
	return group
}

// Describe reads the ASG's bounds, desired capacity and instances.
// Instances in a Pending or Warmed state count as warming (they count
// toward desired, not toward the metric); InService ones as serving;
// Terminating/Detaching/Standby ones not at all.
func (a *AWS) Describe(ctx context.Context, group string) (autoscaler.GroupState, error) {
	name := a.asgName(group)
	out, err := a.api.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name},
	})
	if err != nil {
		return autoscaler.GroupState{}, fmt.Errorf("describe ASG %q: %w", name, err)
	}
	var g *types.AutoScalingGroup
	for i := range out.AutoScalingGroups {
		if aws.ToString(out.AutoScalingGroups[i].AutoScalingGroupName) == name {
			g = &out.AutoScalingGroups[i]
		}
	}
	if g == nil {
		return autoscaler.GroupState{}, fmt.Errorf("describe ASG %q: not found", name)
	}
	st := autoscaler.GroupState{
		Name:    group,
		Min:     int(aws.ToInt32(g.MinSize)),
		Max:     int(aws.ToInt32(g.MaxSize)),
		Desired: int(aws.ToInt32(g.DesiredCapacity)),
	}
	for _, in := range g.Instances {
		s := string(in.LifecycleState)
		switch {
		case s == string(types.LifecycleStateInService):
			st.InService++
		case strings.HasPrefix(s, "Pending"), strings.HasPrefix(s, "Warmed"):
			st.Warming++
		}
	}
	a.mu.Lock()
	a.bounds[group] = [2]int{st.Min, st.Max}
	a.mu.Unlock()
	return st, nil
}

// SetDesired clips desired to the ASG's [Min, Max] before calling AWS:
// emulators accept out-of-range values that AWS rejects, so the check must
// live on our side. Bounds come from the last Describe, or a fresh one.
func (a *AWS) SetDesired(ctx context.Context, group string, desired int, reason string) error {
	a.mu.Lock()
	b, ok := a.bounds[group]
	a.mu.Unlock()
	if !ok {
		st, err := a.Describe(ctx, group)
		if err != nil {
			return err
		}
		b = [2]int{st.Min, st.Max}
	}
	desired = Clip(desired, b[0], b[1])
	name := a.asgName(group)
	_, err := a.api.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(name),
		DesiredCapacity:      aws.Int32(int32(desired)),
		// Our own policies already model cooldown and warm-up.
		HonorCooldown: aws.Bool(false),
	})
	if err != nil {
		return fmt.Errorf("set desired capacity of ASG %q to %d: %w", name, desired, err)
	}
	return nil
}

// Clip bounds n to [lo, hi]; hi < lo yields lo.
func Clip(n, lo, hi int) int {
	if n > hi {
		n = hi
	}
	if n < lo {
		n = lo
	}
	return n
}
