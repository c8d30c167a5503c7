package infra

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/drawbridge-dev/drawbridge/infra/boot"
	"github.com/drawbridge-dev/drawbridge/infra/plan"
)

// GatewayFleetArgs are the GatewayFleet component's inputs.
type GatewayFleetArgs struct {
	Name            string // AWS name prefix, e.g. "drawbridge-prod"
	VpcID           pulumi.IDOutput
	VpcCIDR         string
	PublicSubnetIDs pulumi.IDArrayOutput
	AZCount         int
	AllowedCIDRs    []netip.Prefix // may reach 80/443
	AdminPort       int            // reachable only from inside the VPC
	InstanceType    string
	ImageID         string // an AMI ID or "resolve:ssm:<public parameter>"
	Binary          BinaryOutput
	// Stack is the validated stack config; infra/boot renders from it what
	// the gateways run (Root resolves drawbridge:gatewayConfigFile).
	Stack *plan.Config
	Root  string
	ARN   ARNs
	Tags  Tags
}

// ARNs builds ARNs for this account and region.
type ARNs struct{ Partition, Region, Account string }

func (a ARNs) ec2(resource string) string {
	return fmt.Sprintf("arn:%s:ec2:%s:%s:%s", a.Partition, a.Region, a.Account, resource)
}

// GatewayFleet is two gateway instances in public subnets of different AZs
// (active-passive), the Elastic IP the active one holds, the failover lease
// table, and the role that lets the passive one take over.
type GatewayFleet struct {
	pulumi.ResourceState

	SecurityGroupID pulumi.IDOutput
	RoleName        pulumi.StringOutput
	PublicIP        pulumi.StringOutput
	LeaseTable      pulumi.StringOutput
	InstanceIDs     pulumi.IDArrayOutput
}

// NewGatewayFleet creates the fleet.
func NewGatewayFleet(ctx *pulumi.Context, name string, args *GatewayFleetArgs, opts ...pulumi.ResourceOption) (*GatewayFleet, error) {
	g := &GatewayFleet{}
	p, err := register(ctx, "GatewayFleet", name, g, opts)
	if err != nil {
		return nil, err
	}
	fleetTag := []string{"drawbridge:role", "gateway", "drawbridge:fleet", args.Name}
	// fleetTags are the tags of a fleet resource named name, plus kv.
	fleetTags := func(name string, kv ...string) []string {
		return append(append([]string{"Name", name}, kv...), fleetTag...)
	}
	tags := args.Tags

	var v4, v6 pulumi.StringArray
	for _, c := range args.AllowedCIDRs {
		if c.Addr().Is4() {
			v4 = append(v4, pulumi.String(c.String()))
		} else {
			v6 = append(v6, pulumi.String(c.String()))
		}
	}
	// 443 is open only when the gateways have a certificate to serve it.
	ports := []int{80}
	if args.Stack.TLSCertificateSource != "" {
		ports = append(ports, 443)
	}
	var ingress ec2.SecurityGroupIngressArray
	for _, port := range ports {
		ingress = append(ingress, ec2.SecurityGroupIngressArgs{
			Description:    pulumi.Sprintf("clients on %d", port),
			Protocol:       pulumi.String("tcp"),
			FromPort:       pulumi.Int(port),
			ToPort:         pulumi.Int(port),
			CidrBlocks:     v4,
			Ipv6CidrBlocks: v6,
		})
	}
	ingress = append(ingress, ec2.SecurityGroupIngressArgs{
		Description: pulumi.String("admin API (metrics, status) from inside the VPC only"),
		Protocol:    pulumi.String("tcp"),
		FromPort:    pulumi.Int(args.AdminPort),
		ToPort:      pulumi.Int(args.AdminPort),
		CidrBlocks:  pulumi.StringArray{pulumi.String(args.VpcCIDR)},
	})
	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		Description: pulumi.String("drawbridge gateway: clients from allowed CIDRs, admin from the VPC"),
		VpcId:       args.VpcID,
		Ingress:     ingress,
		Egress:      allEgress(),
		Tags:        tags.Map(fleetTags(args.Name + "-gateway")...),
	}, p)
	if err != nil {
		return nil, err
	}

	// The lease decides which gateway is active; a conditional write with an
	// expiry, so a partitioned active cannot keep it (see gateway failover).
	lease, err := dynamodb.NewTable(ctx, name+"-lease", &dynamodb.TableArgs{
		Name:        pulumi.String(boot.LeaseTable(args.Stack)),
		BillingMode: pulumi.String("PAY_PER_REQUEST"),
		// One item per lease ("pk" = its name): the gateway failover lease
		// and the autoscaler's share the table (internal/lease's schema).
		HashKey: pulumi.String("pk"),
		Attributes: dynamodb.TableAttributeArray{
			dynamodb.TableAttributeArgs{Name: pulumi.String("pk"), Type: pulumi.String("S")},
		},
		ServerSideEncryption: dynamodb.TableServerSideEncryptionArgs{
			Enabled: pulumi.Bool(true),
		},
		Tags: tags.Map(fleetTags(args.Name + "-gateway-lease")...),
	}, p)
	if err != nil {
		return nil, err
	}

	eip, err := ec2.NewEip(ctx, name+"-eip", &ec2.EipArgs{
		Domain: pulumi.String("vpc"),
		Tags:   tags.Map(fleetTags(args.Name + "-gateway")...),
	}, p)
	if err != nil {
		return nil, err
	}

	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Description:      pulumi.String("drawbridge gateway instances"),
		AssumeRolePolicy: pulumi.String(assumeRoleEC2()),
		Tags:             tags.Map("Name", args.Name+"-gateway"),
	}, p)
	if err != nil {
		return nil, err
	}
	doc := pulumi.All(eip.AllocationId, lease.Arn, args.Binary.Bucket, args.Binary.Key).ApplyT(func(xs []any) string {
		doc := GatewayPolicy(args.ARN, args.Name, xs[0].(string), xs[1].(string), xs[2].(string), xs[3].(string))
		doc.Statement = append(doc.Statement, tlsStatements(args.ARN, args.Stack.TLSCertificateSource)...)
		return doc.JSON()
	}).(pulumi.StringOutput)
	pol, err := iam.NewPolicy(ctx, name+"-policy", &iam.PolicyArgs{
		Description: pulumi.String("drawbridge gateway: move its EIP, read the fleet and backend groups, hold the failover lease"),
		Policy:      doc,
		Tags:        tags.Map("Name", args.Name+"-gateway"),
	}, p)
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicyAttachment(ctx, name+"-policy", &iam.RolePolicyAttachmentArgs{
		Role: role.Name, PolicyArn: pol.Arn,
	}, p); err != nil {
		return nil, err
	}
	profile, err := iam.NewInstanceProfile(ctx, name+"-profile", &iam.InstanceProfileArgs{
		Role: role.Name,
		Tags: tags.Map("Name", args.Name+"-gateway"),
	}, p)
	if err != nil {
		return nil, err
	}

	userData := pulumi.All(eip.AllocationId, args.Binary.Bucket, args.Binary.Key).ApplyT(func(xs []any) (string, error) {
		bin := args.Binary.Static
		bin.S3Bucket, bin.S3Key = xs[1].(string), xs[2].(string)
		bundle, err := boot.Render(args.Stack, boot.Deployed{AllocationID: xs[0].(string), BinaryBucket: bin.S3Bucket, BinaryKey: bin.S3Key}, args.Root)
		if err != nil {
			return "", err
		}
		s, err := boot.RenderUserData(boot.UserData{Region: args.ARN.Region, Binary: bin, TLSSource: args.Stack.TLSCertificateSource, Bundle: bundle})
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	}).(pulumi.StringOutput)

	// A launch template (rather than instance arguments) so the AMI can be a
	// "resolve:ssm:" reference that EC2 resolves at launch.
	lt, err := ec2.NewLaunchTemplate(ctx, name+"-lt", &ec2.LaunchTemplateArgs{
		NamePrefix:           pulumi.String(args.Name + "-gateway-"),
		ImageId:              pulumi.String(args.ImageID),
		InstanceType:         pulumi.String(args.InstanceType),
		MetadataOptions:      imdsv2LT(),
		BlockDeviceMappings:  encryptedRoot(),
		IamInstanceProfile:   ec2.LaunchTemplateIamInstanceProfileArgs{Arn: profile.Arn},
		VpcSecurityGroupIds:  pulumi.StringArray{sg.ID().ToStringOutput()},
		UserData:             userData,
		UpdateDefaultVersion: pulumi.Bool(true),
		TagSpecifications:    tagSpecs(tags, fleetTags(args.Name+"-gateway")),
		Tags:                 tags.Map("Name", args.Name+"-gateway"),
	}, p)
	if err != nil {
		return nil, err
	}

	var ids pulumi.IDArray
	var instances []*ec2.Instance
	for i := range 2 {
		if args.AZCount < 2 && i == 1 {
			ctx.Log.Warn("only one availability zone: both gateways share it, so an AZ outage takes the gateway down", &pulumi.LogArgs{Resource: g})
		}
		inst, err := ec2.NewInstance(ctx, fmt.Sprintf("%s-%d", name, i), &ec2.InstanceArgs{
			LaunchTemplate: ec2.InstanceLaunchTemplateArgs{Id: lt.ID(), Version: pulumi.String("$Latest")},
			// Round-robin over the public subnets: with 2+ AZs the two
			// gateways sit in different AZs.
			SubnetId:                 args.PublicSubnetIDs.Index(pulumi.Int(i % max(args.AZCount, 1))).ToStringOutput(),
			AssociatePublicIpAddress: pulumi.Bool(true),
			// Stated again on the instance (not only in the template) so the
			// policy pack can check each resource on its own.
			MetadataOptions: ec2.InstanceMetadataOptionsArgs{
				HttpTokens: pulumi.String("required"), HttpEndpoint: pulumi.String("enabled"), HttpPutResponseHopLimit: pulumi.Int(1),
			},
			RootBlockDevice: ec2.InstanceRootBlockDeviceArgs{Encrypted: pulumi.Bool(true), VolumeType: pulumi.String("gp3"), VolumeSize: pulumi.Int(16)},
			Tags:            tags.Map(fleetTags(fmt.Sprintf("%s-gateway-%d", args.Name, i), "drawbridge:gateway-index", fmt.Sprint(i))...),
		}, p)
		if err != nil {
			return nil, err
		}
		instances = append(instances, inst)
		ids = append(ids, inst.ID())
	}
	// The EIP starts on gateway 0. Failover moves it at run time, so the
	// association's instance is ignored on later updates instead of being
	// moved back by the next "up".
	if _, err := ec2.NewEipAssociation(ctx, name+"-eip", &ec2.EipAssociationArgs{
		AllocationId:       eip.AllocationId,
		InstanceId:         instances[0].ID(),
		AllowReassociation: pulumi.Bool(true),
	}, p, pulumi.IgnoreChanges([]string{"instanceId"})); err != nil {
		return nil, err
	}

	g.SecurityGroupID = sg.ID()
	g.RoleName = role.Name
	g.PublicIP = eip.PublicIp
	g.LeaseTable = lease.Name
	g.InstanceIDs = ids.ToIDArrayOutput()
	return g, ctx.RegisterResourceOutputs(g, pulumi.Map{
		"securityGroupId": g.SecurityGroupID,
		"publicIp":        g.PublicIP,
		"leaseTable":      g.LeaseTable,
		"instanceIds":     g.InstanceIDs,
	})
}

// GatewayPolicy is the gateway role's least-privilege policy. bucket/key
// are empty when the binary comes from a release URL.
func GatewayPolicy(a ARNs, fleet, allocationID, leaseTableARN, bucket, key string) PolicyDocument {
	st := []Statement{
		{
			Sid:    "MoveOwnElasticIP",
			Effect: "Allow",
			Action: []string{"ec2:AssociateAddress"},
			// The instance ARN needs a wildcard (the role exists before its
			// instances); the tag condition narrows it to this fleet.
			Resource:  []string{a.ec2("elastic-ip/" + allocationID), a.ec2("instance/*")},
			Condition: map[string]map[string]string{"StringEquals": {"aws:ResourceTag/drawbridge:fleet": fleet}},
		},
		{
			Sid:    "DescribeFleetAndGroups",
			Effect: "Allow",
			// These Describe calls support no resource-level permissions.
			Action:   []string{"ec2:DescribeInstances", "ec2:DescribeAddresses", "autoscaling:DescribeAutoScalingGroups"},
			Resource: []string{"*"},
		},
		{
			Sid:      "FailoverLease",
			Effect:   "Allow",
			Action:   []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
			Resource: []string{leaseTableARN},
		},
	}
	if bucket != "" {
		st = append(st, Statement{
			Sid:      "FetchBinary",
			Effect:   "Allow",
			Action:   []string{"s3:GetObject"},
			Resource: []string{fmt.Sprintf("arn:%s:s3:::%s/%s", a.Partition, bucket, key)},
		})
	}
	return PolicyDocument{Statement: st}
}

// tlsStatements let the gateways read their certificate source at boot.
func tlsStatements(a ARNs, source string) []Statement {
	if p, ok := strings.CutPrefix(source, "ssm:"); ok {
		p = strings.TrimRight(p, "/")
		return []Statement{{
			Sid: "FetchTLSCertificate", Effect: "Allow", Action: []string{"ssm:GetParameter"},
			Resource: []string{fmt.Sprintf("arn:%s:ssm:%s:%s:parameter%s/*", a.Partition, a.Region, a.Account, p)},
		}}
	}
	if p, ok := strings.CutPrefix(source, "s3://"); ok {
		return []Statement{{
			Sid: "FetchTLSCertificate", Effect: "Allow", Action: []string{"s3:GetObject"},
			Resource: []string{fmt.Sprintf("arn:%s:s3:::%s/*", a.Partition, strings.TrimRight(p, "/"))},
		}}
	}
	return nil
}

func allEgress() ec2.SecurityGroupEgressArray {
	return ec2.SecurityGroupEgressArray{ec2.SecurityGroupEgressArgs{
		Description: pulumi.String("all outbound (package mirrors, AWS APIs, backends)"),
		Protocol:    pulumi.String("-1"), FromPort: pulumi.Int(0), ToPort: pulumi.Int(0),
		CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")},
	}}
}

func imdsv2LT() ec2.LaunchTemplateMetadataOptionsArgs {
	return ec2.LaunchTemplateMetadataOptionsArgs{
		HttpTokens:              pulumi.String("required"),
		HttpEndpoint:            pulumi.String("enabled"),
		HttpPutResponseHopLimit: pulumi.Int(1),
	}
}

func encryptedRoot() ec2.LaunchTemplateBlockDeviceMappingArray {
	return ec2.LaunchTemplateBlockDeviceMappingArray{ec2.LaunchTemplateBlockDeviceMappingArgs{
		DeviceName: pulumi.String("/dev/xvda"),
		Ebs: ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
			Encrypted:           pulumi.String("true"),
			VolumeType:          pulumi.String("gp3"),
			VolumeSize:          pulumi.Int(16),
			DeleteOnTermination: pulumi.String("true"),
		},
	}}
}

func tagSpecs(tags Tags, kv []string) ec2.LaunchTemplateTagSpecificationArray {
	var out ec2.LaunchTemplateTagSpecificationArray
	for _, rt := range []string{"instance", "volume"} {
		out = append(out, ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String(rt), Tags: tags.Map(kv...)})
	}
	return out
}
