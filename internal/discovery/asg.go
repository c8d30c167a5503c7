package discovery

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/backend"
)

// AutoScalingAPI is the part of the Auto Scaling client ASG uses.
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

// EC2API is the part of the EC2 client ASG uses.
type EC2API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// ASG publishes the InService instances of an Auto Scaling group as
// backends at their private IP and a fixed port. Instances that are
// pending, terminating, in standby or failing their ASG health check are
// left out, so a scale-in drains a backend before the instance goes.
// When a call fails nothing is published: the last membership stays.
// With Port 0 each instance's port is its drawbridge:port tag (what the
// stack's launch template puts on every backend); an instance without a
// valid one is left out and reported.
type ASG struct {
	AutoScaling AutoScalingAPI
	EC2         EC2API
	Group       string
	Port        int           // 0: the instance's PortTag
	Interval    time.Duration // between polls
	Jitter      float64       // each wait is Interval * (1 +- Jitter)
	Clock       clock.Clock   // default clock.Real
	OnError     func(error)   // hears failed polls; may be nil
}

func (a *ASG) Run(ctx context.Context, publish func([]backend.Spec)) error {
	clk := a.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	for {
		specs, err := a.Snapshot(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if a.OnError != nil {
				a.OnError(err)
			}
		} else {
			publish(specs)
		}
		if !wait(ctx, clk, jittered(a.Interval, a.Jitter)) {
			return nil
		}
	}
}

// Snapshot reads the group's InService, healthy instances and their
// private IPs once.
func (a *ASG) Snapshot(ctx context.Context) ([]backend.Spec, error) {
	var ids []string
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(a.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{a.Group},
	})
	found := false
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("asg %s: %w", a.Group, err)
		}
		for _, g := range out.AutoScalingGroups {
			found = found || aws.ToString(g.AutoScalingGroupName) == a.Group
			for _, in := range g.Instances {
				if in.LifecycleState == astypes.LifecycleStateInService && aws.ToString(in.HealthStatus) != "Unhealthy" {
					ids = append(ids, aws.ToString(in.InstanceId))
				}
			}
		}
	}
	if !found {
		// Not "zero backends": a typo or a deleted group must not empty
		// the pool.
		return nil, fmt.Errorf("asg %s: group not found", a.Group)
	}
	specs := []backend.Spec{}
	if len(ids) == 0 {
		return specs, nil
	}
	ip := ec2.NewDescribeInstancesPaginator(a.EC2, &ec2.DescribeInstancesInput{InstanceIds: ids})
	for ip.HasMorePages() {
		out, err := ip.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("asg %s: describe instances: %w", a.Group, err)
		}
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				addr := aws.ToString(in.PrivateIpAddress)
				if addr == "" {
					continue // not yet networked; next poll
				}
				port := a.Port
				if port == 0 {
					if port = tagPort(in.Tags); port == 0 {
						if a.OnError != nil {
							a.OnError(fmt.Errorf("asg %s: instance %s has no valid %s tag; left out", a.Group, aws.ToString(in.InstanceId), PortTag))
						}
						continue
					}
				}
				specs = append(specs, backend.Spec{ID: aws.ToString(in.InstanceId), Address: net.JoinHostPort(addr, strconv.Itoa(port)), Weight: 1})
			}
		}
	}
	return specs, nil
}

// PortTag names the instance tag that carries a backend's port.
const PortTag = "drawbridge:port"

func tagPort(tags []ec2types.Tag) int {
	for _, t := range tags {
		if aws.ToString(t.Key) == PortTag {
			if p, err := strconv.Atoi(aws.ToString(t.Value)); err == nil && p > 0 && p < 65536 {
				return p
			}
		}
	}
	return 0
}

// jittered spreads polls so that a fleet of gateways does not hit the
// API in step (and get throttled together).
func jittered(d time.Duration, jitter float64) time.Duration {
	if jitter <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + jitter*(2*rand.Float64()-1)))
}

// wait blocks for d on clk; false when ctx ended first.
func wait(ctx context.Context, clk clock.Clock, d time.Duration) bool {
	done := make(chan struct{})
	t := clk.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-done:
		return true
	}
}
