package deploy

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

const localstackEndpoint = "http://localhost:4566"

// TestE2ELocalStack deploys the localstack stack to an emulator, checks
// what was created with aws-sdk-go-v2, and destroys it. Gated on
// DRAWBRIDGE_E2E_AWS_ENDPOINT and the pulumi CLI (with its aws plugin).
func TestE2ELocalStack(t *testing.T) {
	endpoint := os.Getenv("DRAWBRIDGE_E2E_AWS_ENDPOINT")
	if endpoint == "" {
		t.Skip("set DRAWBRIDGE_E2E_AWS_ENDPOINT=http://localhost:4566 (LocalStack or moto running) to run the end-to-end deploy")
	}
	if endpoint != localstackEndpoint {
		t.Skipf("stacks/Pulumi.localstack.yaml targets %s; run the emulator there (got %s)", localstackEndpoint, endpoint)
	}
	if _, err := exec.LookPath("pulumi"); err != nil {
		t.Skip("pulumi CLI not on PATH; end-to-end deploy skipped")
	}
	// A throwaway local backend, unless the caller chose one.
	if os.Getenv("PULUMI_BACKEND_URL") == "" {
		t.Setenv("PULUMI_BACKEND_URL", "file://"+t.TempDir())
	}
	if os.Getenv("PULUMI_CONFIG_PASSPHRASE") == "" {
		t.Setenv("PULUMI_CONFIG_PASSPHRASE", "drawbridge-e2e")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := repoRoot(t)
	out := t.Output()
	run := func(op string) error {
		return Run(ctx, Options{Op: op, Stack: "localstack", Dir: root, Yes: true, Stdout: out, Stderr: out})
	}
	t.Cleanup(func() {
		if err := run(Destroy); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	if err := run(Up); err != nil {
		t.Fatal(err)
	}
	stack, err := auto.SelectStackLocalSource(ctx, "localstack", root)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := stack.Outputs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vpcID, _ := outs["vpcId"].Value.(string)
	asgName, _ := outs["asgName"].Value.(string)
	if vpcID == "" || asgName == "" || outs["gatewayPublicIp"].Value == "" {
		t.Fatalf("outputs: %+v", outs)
	}

	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		t.Fatal(err)
	}
	ec := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(endpoint) })
	as := autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(endpoint) })
	inVPC := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}

	vpcs, err := ec.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}})
	if err != nil || len(vpcs.Vpcs) != 1 || aws.ToString(vpcs.Vpcs[0].CidrBlock) != "10.99.0.0/16" {
		t.Fatalf("VPC: %v %+v", err, vpcs)
	}
	subs, err := ec.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: inVPC})
	if err != nil {
		t.Fatal(err)
	}
	var public, private []string
	for _, s := range subs.Subnets {
		tier := ""
		for _, tg := range s.Tags {
			if aws.ToString(tg.Key) == "drawbridge:tier" {
				tier = aws.ToString(tg.Value)
			}
		}
		switch {
		case tier == "public" && aws.ToBool(s.MapPublicIpOnLaunch):
			public = append(public, aws.ToString(s.SubnetId))
		case tier == "private" && !aws.ToBool(s.MapPublicIpOnLaunch):
			private = append(private, aws.ToString(s.SubnetId))
		default:
			t.Errorf("subnet %s: tier %q, public IPs %v", aws.ToString(s.SubnetId), tier, aws.ToBool(s.MapPublicIpOnLaunch))
		}
	}
	if len(public) != 2 || len(private) != 2 {
		t.Fatalf("want 2 public and 2 private subnets, got %v %v", public, private)
	}

	sgs, err := ec.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: inVPC})
	if err != nil {
		t.Fatal(err)
	}
	roleOf := func(tags []ec2types.Tag) string {
		for _, tg := range tags {
			if aws.ToString(tg.Key) == "drawbridge:role" {
				return aws.ToString(tg.Value)
			}
		}
		return ""
	}
	var gwSG string
	for _, sg := range sgs.SecurityGroups {
		if roleOf(sg.Tags) == "gateway" {
			gwSG = aws.ToString(sg.GroupId)
		}
	}
	for _, sg := range sgs.SecurityGroups {
		if roleOf(sg.Tags) != "backend" {
			continue
		}
		if len(sg.IpPermissions) != 1 || len(sg.IpPermissions[0].IpRanges) != 0 || len(sg.IpPermissions[0].UserIdGroupPairs) != 1 ||
			aws.ToString(sg.IpPermissions[0].UserIdGroupPairs[0].GroupId) != gwSG {
			t.Errorf("backend SG must admit only the gateway SG %s: %+v", gwSG, sg.IpPermissions)
		}
	}

	lts, err := ec.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:environment"), Values: []string{"localstack"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lts.LaunchTemplates) != 2 {
		t.Errorf("want gateway and backend launch templates, got %d", len(lts.LaunchTemplates))
	}
	for _, lt := range lts.LaunchTemplates {
		vs, err := ec.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
			LaunchTemplateId: lt.LaunchTemplateId, Versions: []string{"$Latest"},
		})
		if err != nil || len(vs.LaunchTemplateVersions) != 1 {
			t.Fatalf("launch template %s: %v", aws.ToString(lt.LaunchTemplateName), err)
		}
		d := vs.LaunchTemplateVersions[0].LaunchTemplateData
		if d == nil || d.MetadataOptions == nil || d.MetadataOptions.HttpTokens != ec2types.LaunchTemplateHttpTokensStateRequired {
			t.Errorf("launch template %s does not require IMDSv2", aws.ToString(lt.LaunchTemplateName))
		}
		if d != nil && len(d.BlockDeviceMappings) > 0 && !aws.ToBool(d.BlockDeviceMappings[0].Ebs.Encrypted) {
			t.Errorf("launch template %s: root volume not encrypted", aws.ToString(lt.LaunchTemplateName))
		}
	}

	groups, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{asgName}})
	if err != nil || len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("ASG %s: %v", asgName, err)
	}
	g := groups.AutoScalingGroups[0]
	if aws.ToInt32(g.MinSize) != 1 || aws.ToInt32(g.MaxSize) != 3 {
		t.Errorf("ASG sizes min %d max %d", aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize))
	}
	for _, id := range strings.Split(aws.ToString(g.VPCZoneIdentifier), ",") {
		if !slices.Contains(private, id) {
			t.Errorf("ASG in subnet %s, which is not private", id)
		}
	}
}
