package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/drawbridge-dev/drawbridge/infra/plan"
)

// NetworkArgs are the Network component's inputs: an already validated plan.
type NetworkArgs struct {
	Name        string // prefix of AWS Name tags, e.g. "drawbridge-prod"
	Plan        *plan.Network
	NATStrategy string
	FlowLogs    bool
	Tags        Tags
}

// Network is a VPC with one public and one private subnet per AZ, an
// internet gateway, NAT gateways per strategy and route tables.
type Network struct {
	pulumi.ResourceState

	VpcID            pulumi.IDOutput
	VpcCIDR          string
	PublicSubnetIDs  pulumi.IDArrayOutput
	PrivateSubnetIDs pulumi.IDArrayOutput
	NATGatewayIDs    pulumi.IDArrayOutput
}

// NewNetwork creates the network. The public route table sends 0.0.0.0/0 to
// the internet gateway; each private route table sends it to a NAT gateway
// (one shared, or one in its own AZ) or nowhere (NAT strategy "none": the
// private subnets are isolated, as terraform-aws-modules' intra subnets).
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	n := &Network{VpcCIDR: args.Plan.VPC.String()}
	p, err := register(ctx, "Network", name, n, opts)
	if err != nil {
		return nil, err
	}
	tags := args.Tags

	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(args.Plan.VPC.String()),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               tags.Map("Name", args.Name),
	}, p)
	if err != nil {
		return nil, err
	}
	// Take over the default security group and leave it without rules, as
	// terraform-aws-modules/vpc does (manage_default_security_group): nothing
	// should ever land in it by accident with "allow all within the group".
	if _, err := ec2.NewDefaultSecurityGroup(ctx, name+"-default-sg", &ec2.DefaultSecurityGroupArgs{
		VpcId: vpc.ID(),
		Tags:  tags.Map("Name", args.Name+"-default"),
	}, p); err != nil {
		return nil, err
	}
	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  tags.Map("Name", args.Name),
	}, p)
	if err != nil {
		return nil, err
	}

	// subnet is the tier's ("public" or "private") subnet in the i-th AZ.
	subnet := func(tier string, i int, cidr string) (*ec2.Subnet, error) {
		az := args.Plan.AZs[i]
		return ec2.NewSubnet(ctx, fmt.Sprintf("%s-%s-%d", name, tier, i), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			CidrBlock:           pulumi.String(cidr),
			AvailabilityZone:    pulumi.String(az),
			MapPublicIpOnLaunch: pulumi.Bool(tier == "public"),
			Tags:                tags.Map("Name", fmt.Sprintf("%s-%s-%s", args.Name, tier, az), "drawbridge:tier", tier),
		}, p)
	}

	var public, private, nats pulumi.IDArray
	var publicSubnets []*ec2.Subnet
	for i := range args.Plan.AZs {
		s, err := subnet("public", i, args.Plan.Public[i].String())
		if err != nil {
			return nil, err
		}
		publicSubnets = append(publicSubnets, s)
		public = append(public, s.ID())
	}

	publicRT, err := ec2.NewRouteTable(ctx, name+"-public-rt", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Tags:  tags.Map("Name", args.Name+"-public", "drawbridge:tier", "public"),
	}, p)
	if err != nil {
		return nil, err
	}
	if _, err := ec2.NewRoute(ctx, name+"-public-default", &ec2.RouteArgs{
		RouteTableId:         publicRT.ID(),
		DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
		GatewayId:            igw.ID(),
	}, p); err != nil {
		return nil, err
	}
	for i, s := range publicSubnets {
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId: s.ID(), RouteTableId: publicRT.ID(),
		}, p); err != nil {
			return nil, err
		}
	}

	// NAT gateways live in public subnets: one in the first AZ ("single",
	// cheap, one AZ's outage cuts egress for all) or one per AZ (HA; each
	// private subnet uses its own AZ's NAT so no cross-AZ data charges).
	natCount := map[string]int{plan.NATNone: 0, plan.NATSingle: 1, plan.NATOnePerAZ: len(args.Plan.AZs)}[args.NATStrategy]
	var natGWs []*ec2.NatGateway
	for i := 0; i < natCount; i++ {
		eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%d", name, i), &ec2.EipArgs{
			Domain: pulumi.String("vpc"),
			Tags:   tags.Map("Name", fmt.Sprintf("%s-nat-%d", args.Name, i)),
		}, p, pulumi.DependsOn([]pulumi.Resource{igw}))
		if err != nil {
			return nil, err
		}
		nat, err := ec2.NewNatGateway(ctx, fmt.Sprintf("%s-nat-%d", name, i), &ec2.NatGatewayArgs{
			AllocationId: eip.AllocationId,
			SubnetId:     publicSubnets[i].ID(),
			Tags:         tags.Map("Name", fmt.Sprintf("%s-nat-%s", args.Name, args.Plan.AZs[i])),
		}, p)
		if err != nil {
			return nil, err
		}
		natGWs = append(natGWs, nat)
		nats = append(nats, nat.ID())
	}

	for i, az := range args.Plan.AZs {
		s, err := subnet("private", i, args.Plan.Private[i].String())
		if err != nil {
			return nil, err
		}
		private = append(private, s.ID())
		// One route table per private subnet, so switching NAT strategy
		// only changes routes, never associations.
		rt, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-private-rt-%d", name, i), &ec2.RouteTableArgs{
			VpcId: vpc.ID(),
			Tags:  tags.Map("Name", fmt.Sprintf("%s-private-%s", args.Name, az), "drawbridge:tier", "private"),
		}, p)
		if err != nil {
			return nil, err
		}
		if len(natGWs) > 0 {
			nat := natGWs[min(i, len(natGWs)-1)]
			if args.NATStrategy == plan.NATSingle {
				nat = natGWs[0]
			}
			if _, err := ec2.NewRoute(ctx, fmt.Sprintf("%s-private-default-%d", name, i), &ec2.RouteArgs{
				RouteTableId:         rt.ID(),
				DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
				NatGatewayId:         nat.ID(),
			}, p); err != nil {
				return nil, err
			}
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId: s.ID(), RouteTableId: rt.ID(),
		}, p); err != nil {
			return nil, err
		}
	}

	if args.FlowLogs {
		// Flow logs go to S3: no IAM role to manage (CloudWatch Logs needs
		// one), and cheaper to retain.
		bucket, err := newPrivateBucket(ctx, name+"-flow-logs", tags, p)
		if err != nil {
			return nil, err
		}
		if _, err := ec2.NewFlowLog(ctx, name+"-flow-log", &ec2.FlowLogArgs{
			VpcId:              vpc.ID(),
			TrafficType:        pulumi.String("ALL"),
			LogDestinationType: pulumi.String("s3"),
			LogDestination:     bucket.Arn,
			Tags:               tags.Map("Name", args.Name),
		}, p); err != nil {
			return nil, err
		}
	}

	n.VpcID = vpc.ID().ToIDOutput()
	n.PublicSubnetIDs = public.ToIDArrayOutput()
	n.PrivateSubnetIDs = private.ToIDArrayOutput()
	n.NATGatewayIDs = nats.ToIDArrayOutput()
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":            n.VpcID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
		"natGatewayIds":    n.NATGatewayIDs,
	})
}

// newPrivateBucket is an S3 bucket with encryption at rest and every form of
// public access blocked.
func newPrivateBucket(ctx *pulumi.Context, name string, tags Tags, opts ...pulumi.ResourceOption) (*s3.BucketV2, error) {
	b, err := s3.NewBucketV2(ctx, name, &s3.BucketV2Args{
		ForceDestroy: pulumi.Bool(true), // artifacts and logs are reproducible; don't block destroy
		Tags:         tags.Map("Name", name),
	}, opts...)
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: b.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{
			s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
				ApplyServerSideEncryptionByDefault: s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
					SseAlgorithm: pulumi.String("AES256"),
				},
			},
		},
	}, opts...); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, name, &s3.BucketPublicAccessBlockArgs{
		Bucket:                b.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, opts...); err != nil {
		return nil, err
	}
	return b, nil
}
