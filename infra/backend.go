package infra

import (
	"encoding/base64"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/drawbridge-dev/drawbridge/infra/plan"
)

// Tags the gateway's ASG discovery reads on backend instances.
const (
	TagPool = "drawbridge:pool"
	TagPort = "drawbridge:port"
	TagRole = "drawbridge:role"
)

// BackendPoolArgs are the BackendPool component's inputs.
type BackendPoolArgs struct {
	Name                   string // AWS name prefix
	GroupName              string // the ASG's name, known before creation
	Pool                   string // the gateway pool these instances serve
	VpcID                  pulumi.IDOutput
	PrivateSubnetIDs       pulumi.IDArrayOutput
	GatewaySecurityGroupID pulumi.IDOutput
	AppPort                int
	ImageID                string
	InstanceType           string
	UserData               string
	MinSize, MaxSize       int
	DesiredCapacity        int
	HealthCheckGracePeriod int
	// DrainSeconds is the heartbeat timeout of the group's termination
	// lifecycle hook: how long an instance leaving on scale-in stays
	// running in Terminating:Wait, out of the gateways' discovery, before
	// it is shut down (boot.LifecycleHeartbeat). 0: no hook.
	DrainSeconds           int
	WaitForCapacityTimeout string
	Spot                   *SpotArgs // nil: on-demand only
	Schedules              []plan.Schedule
	Tags                   Tags
}

// SpotArgs turn on a mixed instances policy.
type SpotArgs struct {
	InstanceTypes            []string
	OnDemandBase             int
	OnDemandPercentAboveBase int
}

// BackendPool is an Auto Scaling group of backends in the private subnets.
type BackendPool struct {
	pulumi.ResourceState

	GroupName       pulumi.StringOutput
	GroupARN        pulumi.StringOutput
	SecurityGroupID pulumi.IDOutput
}

// NewBackendPool creates the launch template, the group and its schedules.
func NewBackendPool(ctx *pulumi.Context, name string, args *BackendPoolArgs, opts ...pulumi.ResourceOption) (*BackendPool, error) {
	b := &BackendPool{}
	p, err := register(ctx, "BackendPool", name, b, opts)
	if err != nil {
		return nil, err
	}
	tags := args.Tags
	role := []string{TagRole, "backend", TagPool, args.Pool, TagPort, fmt.Sprint(args.AppPort)}

	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		Description: pulumi.String("drawbridge backends: app port from the gateways only"),
		VpcId:       args.VpcID,
		Ingress: ec2.SecurityGroupIngressArray{ec2.SecurityGroupIngressArgs{
			Description:    pulumi.String("app port from the gateway security group"),
			Protocol:       pulumi.String("tcp"),
			FromPort:       pulumi.Int(args.AppPort),
			ToPort:         pulumi.Int(args.AppPort),
			SecurityGroups: pulumi.StringArray{args.GatewaySecurityGroupID.ToStringOutput()},
		}},
		Egress: allEgress(),
		Tags:   tags.Map(append([]string{"Name", args.Name + "-" + args.Pool}, role...)...),
	}, p)
	if err != nil {
		return nil, err
	}

	ltArgs := &ec2.LaunchTemplateArgs{
		NamePrefix:          pulumi.String(args.Name + "-" + args.Pool + "-"),
		ImageId:             pulumi.String(args.ImageID),
		InstanceType:        pulumi.String(args.InstanceType),
		MetadataOptions:     imdsv2LT(),
		BlockDeviceMappings: encryptedRoot(),
		// Explicitly no public address, whatever the subnet says.
		NetworkInterfaces: ec2.LaunchTemplateNetworkInterfaceArray{ec2.LaunchTemplateNetworkInterfaceArgs{
			DeviceIndex:              pulumi.Int(0),
			AssociatePublicIpAddress: pulumi.String("false"),
			SecurityGroups:           pulumi.StringArray{sg.ID().ToStringOutput()},
			DeleteOnTermination:      pulumi.String("true"),
		}},
		UpdateDefaultVersion: pulumi.Bool(true),
		TagSpecifications:    tagSpecs(tags, append([]string{"Name", args.Name + "-" + args.Pool}, role...)),
		Tags:                 tags.Map(append([]string{"Name", args.Name + "-" + args.Pool}, role...)...),
	}
	if args.UserData != "" {
		ltArgs.UserData = pulumi.String(base64.StdEncoding.EncodeToString([]byte(args.UserData)))
	}
	lt, err := ec2.NewLaunchTemplate(ctx, name+"-lt", ltArgs, p)
	if err != nil {
		return nil, err
	}

	var asgTags autoscaling.GroupTagArray
	for k, v := range tags.Plain(append([]string{"Name", args.Name + "-" + args.Pool}, role...)...) {
		asgTags = append(asgTags, autoscaling.GroupTagArgs{Key: pulumi.String(k), Value: pulumi.String(v), PropagateAtLaunch: pulumi.Bool(true)})
	}
	groupArgs := &autoscaling.GroupArgs{
		Name:                   pulumi.String(args.GroupName),
		VpcZoneIdentifiers:     idStrings(args.PrivateSubnetIDs),
		MinSize:                pulumi.Int(args.MinSize),
		MaxSize:                pulumi.Int(args.MaxSize),
		DesiredCapacity:        pulumi.Int(args.DesiredCapacity),
		HealthCheckType:        pulumi.String("EC2"),
		HealthCheckGracePeriod: pulumi.Int(args.HealthCheckGracePeriod),
		WaitForCapacityTimeout: pulumi.String(args.WaitForCapacityTimeout),
		DefaultInstanceWarmup:  pulumi.Int(args.HealthCheckGracePeriod),
		// So the autoscaler's per-instance view is in CloudWatch too.
		MetricsGranularity: pulumi.String("1Minute"),
		EnabledMetrics: pulumi.StringArray{pulumi.String("GroupDesiredCapacity"), pulumi.String("GroupInServiceInstances"),
			pulumi.String("GroupPendingInstances"), pulumi.String("GroupTerminatingInstances")},
		Tags: asgTags,
	}
	if args.DrainSeconds > 0 {
		// The gateways discover InService instances only: holding a leaving
		// instance in Terminating:Wait lets every gateway stop sending to it
		// before it shuts down (what an ALB's deregistration delay does).
		// Nobody completes the action; the timeout CONTINUEs.
		groupArgs.InitialLifecycleHooks = autoscaling.GroupInitialLifecycleHookArray{autoscaling.GroupInitialLifecycleHookArgs{
			Name:                pulumi.String("drain"),
			LifecycleTransition: pulumi.String("autoscaling:EC2_INSTANCE_TERMINATING"),
			HeartbeatTimeout:    pulumi.Int(args.DrainSeconds),
			DefaultResult:       pulumi.String("CONTINUE"),
		}}
	}
	if args.Spot == nil {
		groupArgs.LaunchTemplate = autoscaling.GroupLaunchTemplateArgs{Id: lt.ID(), Version: pulumi.String("$Latest")}
	} else {
		types := args.Spot.InstanceTypes
		if len(types) == 0 {
			types = []string{args.InstanceType}
		}
		var overrides autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArray
		for _, t := range types {
			overrides = append(overrides, autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs{InstanceType: pulumi.String(t)})
		}
		groupArgs.MixedInstancesPolicy = autoscaling.GroupMixedInstancesPolicyArgs{
			InstancesDistribution: autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs{
				OnDemandBaseCapacity:                pulumi.Int(args.Spot.OnDemandBase),
				OnDemandPercentageAboveBaseCapacity: pulumi.Int(args.Spot.OnDemandPercentAboveBase),
				// Fewest interruptions, as AWS recommends for services.
				SpotAllocationStrategy: pulumi.String("price-capacity-optimized"),
			},
			LaunchTemplate: autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs{
				LaunchTemplateSpecification: autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs{
					LaunchTemplateId: lt.ID(), Version: pulumi.String("$Latest"),
				},
				Overrides: overrides,
			},
		}
		groupArgs.CapacityRebalance = pulumi.Bool(true)
	}
	// The autoscaler owns desired capacity after creation: an "up" must not
	// reset it (as terraform users do with ignore_changes).
	asg, err := autoscaling.NewGroup(ctx, name+"-asg", groupArgs, p, pulumi.IgnoreChanges([]string{"desiredCapacity"}))
	if err != nil {
		return nil, err
	}
	for _, s := range args.Schedules {
		sa := &autoscaling.ScheduleArgs{
			AutoscalingGroupName: asg.Name,
			ScheduledActionName:  pulumi.String(s.Name),
			Recurrence:           pulumi.String(s.Recurrence),
			// -1 leaves a size unchanged, as in the AWS API.
			MinSize:         pulumi.Int(orMinus1(s.MinSize)),
			MaxSize:         pulumi.Int(orMinus1(s.MaxSize)),
			DesiredCapacity: pulumi.Int(orMinus1(s.DesiredCapacity)),
		}
		if s.TimeZone != "" {
			sa.TimeZone = pulumi.String(s.TimeZone)
		}
		if s.StartTime != "" {
			sa.StartTime = pulumi.String(s.StartTime)
		}
		if s.EndTime != "" {
			sa.EndTime = pulumi.String(s.EndTime)
		}
		if _, err := autoscaling.NewSchedule(ctx, name+"-schedule-"+s.Name, sa, p); err != nil {
			return nil, err
		}
	}

	b.GroupName = asg.Name
	b.GroupARN = asg.Arn
	b.SecurityGroupID = sg.ID()
	return b, ctx.RegisterResourceOutputs(b, pulumi.Map{
		"groupName":       b.GroupName,
		"groupArn":        b.GroupARN,
		"securityGroupId": b.SecurityGroupID,
	})
}

func orMinus1(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

func idStrings(ids pulumi.IDArrayOutput) pulumi.StringArrayOutput {
	return ids.ApplyT(func(ids []pulumi.ID) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = string(id)
		}
		return out
	}).(pulumi.StringArrayOutput)
}
