// Package infra holds the drawbridge Pulumi components (Network,
// GatewayFleet, BackendPool, Autoscaler, BinaryDelivery) and the program
// that wires them from a stack's config. cmd/infra is its main package.
package infra

import (
	"context"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/drawbridge-dev/drawbridge/infra/boot"
	"github.com/drawbridge-dev/drawbridge/infra/plan"
)

// Options inject the program's edges: where the project is and how the
// binary is built (tests pass a fake builder; the real one runs go build).
type Options struct {
	Root        string // project root (holds Pulumi.yaml); "" finds it from the working directory
	BuildBinary func(ctx context.Context, root, arch string) (string, error)
}

// SSM public parameters for the latest Amazon Linux 2023 AMI, per arch.
var amiParameter = map[string]string{
	"amd64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
	"arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
}

// Program returns the Pulumi program. All validation (config, CIDR plan,
// AZs offered by the region, files) happens before the first resource.
func Program(opts Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := plan.Load(ctx.GetConfig, ctx.Project(), ctx.Stack())
		if err != nil {
			return fmt.Errorf("stack %s config:\n%w", ctx.Stack(), err)
		}
		azs, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")})
		if err != nil {
			return fmt.Errorf("listing availability zones: %w", err)
		}
		netPlan, err := cfg.PlanNetwork(azs.Names)
		if err != nil {
			return fmt.Errorf("stack %s config:\n%w", ctx.Stack(), err)
		}
		root := opts.Root
		if root == "" {
			if root, err = FindRoot(); err != nil {
				return err
			}
		}
		// Render what the instances run now: an invalid config fails here,
		// naming the stack key, instead of crash-looping on the instances.
		if _, err := boot.Render(cfg, boot.References, root); err != nil {
			return fmt.Errorf("stack %s config:\n%w", ctx.Stack(), err)
		}
		var localBinary string
		if cfg.BinaryURL == "" {
			if opts.BuildBinary == nil {
				return fmt.Errorf("%s: not set and this program cannot build the binary", plan.Key("binaryUrl"))
			}
			if localBinary, err = opts.BuildBinary(ctx.Context(), root, cfg.Arch); err != nil {
				return err
			}
		}
		ident, err := aws.GetCallerIdentity(ctx, nil)
		if err != nil {
			return fmt.Errorf("reading the AWS account: %w", err)
		}
		part, err := aws.GetPartition(ctx, nil)
		if err != nil {
			return fmt.Errorf("reading the AWS partition: %w", err)
		}
		arns := ARNs{Partition: part.Partition, Region: cfg.Region, Account: ident.AccountId}
		return build(ctx, cfg, netPlan, arns, root, localBinary)
	}
}

func build(ctx *pulumi.Context, cfg *plan.Config, netPlan *plan.Network, arns ARNs, root, localBinary string) error {
	tags := NewTags(cfg.Project, cfg.Environment, cfg.Owner, cfg.Tags)
	prefix := cfg.Project + "-" + cfg.Environment
	image := cfg.AMI
	if image == "" {
		image = "resolve:ssm:" + amiParameter[cfg.Arch]
	}
	groupName := boot.GroupName(cfg)

	network, err := NewNetwork(ctx, "network", &NetworkArgs{
		Name: prefix, Plan: netPlan, NATStrategy: cfg.NATStrategy, FlowLogs: cfg.FlowLogs, Tags: tags,
	})
	if err != nil {
		return err
	}
	bin, err := NewBinaryDelivery(ctx, "binary", &BinaryDeliveryArgs{
		Name: prefix, URL: cfg.BinaryURL, SHA256: cfg.BinarySHA256, LocalPath: localBinary, Arch: cfg.Arch, Tags: tags,
	})
	if err != nil {
		return err
	}
	gw, err := NewGatewayFleet(ctx, "gateway", &GatewayFleetArgs{
		Name: prefix, VpcID: network.VpcID, VpcCIDR: network.VpcCIDR, PublicSubnetIDs: network.PublicSubnetIDs,
		AZCount: len(netPlan.AZs), AllowedCIDRs: cfg.AllowedCIDRs, AdminPort: cfg.AdminPort,
		InstanceType: cfg.GatewayInstanceType, ImageID: image, Binary: bin.Binary,
		Stack: cfg, Root: root, ARN: arns, Tags: tags,
	})
	if err != nil {
		return err
	}
	var spot *SpotArgs
	if cfg.SpotEnabled {
		spot = &SpotArgs{InstanceTypes: cfg.SpotInstanceTypes, OnDemandBase: cfg.OnDemandBaseCapacity, OnDemandPercentAboveBase: cfg.OnDemandPercentAbove}
	}
	pool, err := NewBackendPool(ctx, "backend", &BackendPoolArgs{
		Name: prefix, GroupName: groupName, Pool: cfg.PoolName, VpcID: network.VpcID,
		PrivateSubnetIDs: network.PrivateSubnetIDs, GatewaySecurityGroupID: gw.SecurityGroupID,
		AppPort: cfg.AppPort, ImageID: image, InstanceType: cfg.BackendInstanceType, UserData: cfg.BackendUserData,
		MinSize: cfg.MinSize, MaxSize: cfg.MaxSize, DesiredCapacity: cfg.DesiredCapacity,
		HealthCheckGracePeriod: cfg.HealthCheckGracePeriod, DrainSeconds: boot.LifecycleHeartbeat(cfg), WaitForCapacityTimeout: cfg.WaitForCapacityTimeout,
		Spot: spot, Schedules: cfg.Schedules, Tags: tags,
	})
	if err != nil {
		return err
	}
	asArgs := &AutoscalerArgs{Name: prefix, GroupARN: pool.GroupARN, Tags: tags}
	if cfg.AutoscalerPlacement == plan.PlacementGateway {
		asArgs.RoleName = &gw.RoleName
	}
	as, err := NewAutoscaler(ctx, "autoscaler", asArgs)
	if err != nil {
		return err
	}

	ctx.Export("gatewayPublicIp", gw.PublicIP)
	ctx.Export("gatewayUrl", pulumi.Sprintf("http://%s", gw.PublicIP))
	ctx.Export("vpcId", network.VpcID)
	ctx.Export("publicSubnetIds", network.PublicSubnetIDs)
	ctx.Export("privateSubnetIds", network.PrivateSubnetIDs)
	ctx.Export("asgName", pool.GroupName)
	ctx.Export("leaseTable", gw.LeaseTable)
	ctx.Export("autoscalerPolicyArn", as.PolicyARN)
	ctx.Export("availabilityZones", pulumi.ToStringArray(netPlan.AZs))
	return nil
}

// FindRoot walks up from the working directory to the directory holding
// Pulumi.yaml. (Pulumi may run the program from cmd/infra or from the root.)
func FindRoot() (string, error) { return boot.FindRoot() }
