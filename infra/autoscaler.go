package infra

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AutoscalerArgs: the group the daemon may scale, and where it runs.
type AutoscalerArgs struct {
	Name     string
	GroupARN pulumi.StringOutput
	// RoleName is the gateway role to attach the policy to (the daemon runs
	// on the gateways); nil for an external placement (attach it yourself).
	RoleName *pulumi.StringOutput
	Tags     Tags
}

// Autoscaler is the IAM side of the autoscaler daemon: a policy scoped to
// one group's ARN for writes, plus the reads that have no resource scope.
type Autoscaler struct {
	pulumi.ResourceState
	PolicyARN pulumi.StringOutput
}

// NewAutoscaler creates the policy (and its attachment).
func NewAutoscaler(ctx *pulumi.Context, name string, args *AutoscalerArgs, opts ...pulumi.ResourceOption) (*Autoscaler, error) {
	a := &Autoscaler{}
	p, err := register(ctx, "Autoscaler", name, a, opts)
	if err != nil {
		return nil, err
	}
	doc := args.GroupARN.ApplyT(func(arn string) string { return AutoscalerPolicy(arn).JSON() }).(pulumi.StringOutput)
	pol, err := iam.NewPolicy(ctx, name+"-policy", &iam.PolicyArgs{
		Description: pulumi.String("drawbridge autoscaler: set one group's desired capacity, read metrics"),
		Policy:      doc,
		Tags:        args.Tags.Map("Name", args.Name+"-autoscaler"),
	}, p)
	if err != nil {
		return nil, err
	}
	if args.RoleName != nil {
		if _, err := iam.NewRolePolicyAttachment(ctx, name+"-policy", &iam.RolePolicyAttachmentArgs{
			Role: *args.RoleName, PolicyArn: pol.Arn,
		}, p); err != nil {
			return nil, err
		}
	}
	a.PolicyARN = pol.Arn
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{"policyArn": a.PolicyARN})
}

// AutoscalerPolicy scopes SetDesiredCapacity to groupARN; Describe and
// CloudWatch reads support no resource-level permissions, hence "*".
func AutoscalerPolicy(groupARN string) PolicyDocument {
	return PolicyDocument{Statement: []Statement{
		{Sid: "ScaleOwnGroup", Effect: "Allow", Action: []string{"autoscaling:SetDesiredCapacity"}, Resource: []string{groupARN}},
		{Sid: "DescribeGroups", Effect: "Allow", Action: []string{"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities"}, Resource: []string{"*"}},
		{Sid: "ReadMetrics", Effect: "Allow", Action: []string{"cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"}, Resource: []string{"*"}},
	}}
}
