package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/awsclient"
	"github.com/drawbridge-dev/drawbridge/internal/discovery"
	"github.com/drawbridge-dev/drawbridge/internal/lease"
)

// TestE2EAWSEmulator runs discovery, the DynamoDB lease and the Elastic IP
// move against an AWS emulator (LocalStack and others), named by
// DRAWBRIDGE_E2E_AWS_ENDPOINT, e.g. http://localhost:4566.
func TestE2EAWSEmulator(t *testing.T) {
	endpoint := os.Getenv("DRAWBRIDGE_E2E_AWS_ENDPOINT")
	if endpoint == "" {
		t.Skip("set DRAWBRIDGE_E2E_AWS_ENDPOINT (e.g. http://localhost:4566) to run against an AWS emulator")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Emulators accept any credentials; do not pick up a real profile.
	cfg, err := awsclient.Load(ctx, awsclient.Options{Region: "us-east-1", Endpoint: endpoint},
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		t.Fatal(err)
	}
	ec2c := ec2.NewFromConfig(cfg)
	suffix := fmt.Sprint(time.Now().UnixNano())

	// Two "gateway" instances and an Elastic IP.
	imgs, err := ec2c.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(imgs.Images) == 0 {
		t.Fatalf("describe images: %v (%d images)", err, len(imgs.Images))
	}
	run, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: imgs.Images[0].ImageId, MinCount: aws.Int32(2), MaxCount: aws.Int32(2), InstanceType: ec2types.InstanceTypeT3Micro})
	if err != nil {
		t.Fatal(err)
	}
	ia, ib := aws.ToString(run.Instances[0].InstanceId), aws.ToString(run.Instances[1].InstanceId)
	t.Cleanup(func() {
		_, _ = ec2c.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{ia, ib}})
	})
	alloc, err := ec2c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	allocID := aws.ToString(alloc.AllocationId)
	associated := func() string {
		out, err := ec2c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{allocID}})
		if err != nil || len(out.Addresses) != 1 {
			t.Fatalf("describe addresses: %v", err)
		}
		return aws.ToString(out.Addresses[0].InstanceId)
	}

	// The lease table.
	ddb := dynamodb.NewFromConfig(cfg)
	table := "drawbridge-e2e-" + suffix
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	if err := dynamodb.NewTableExistsWaiter(ddb).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, time.Minute); err != nil {
		t.Fatal(err)
	}

	t.Run("lease and EIP", func(t *testing.T) {
		const ttl = 2 * time.Second
		mk := func(node, instance string) *Controller {
			c, err := New(Config{Node: node, TTL: ttl, Clock: clock.Real{},
				Lease:   lease.NewDynamoDB(ddb, table, "gateway", clock.Real{}),
				Address: &EIP{API: ec2c, AllocationID: allocID, InstanceID: instance}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		a, b := mk("a", ia), mk("b", ib)
		a.tick(ctx)
		b.tick(ctx)
		sa, sb := a.Status(), b.Status()
		if sa.Role != Active || sb.Role != Passive || !sa.AddressHeld {
			t.Fatalf("a %+v, b %+v", sa, sb)
		}
		if got := associated(); got != ia {
			t.Fatalf("EIP on %q, want %s", got, ia)
		}
		// a dies: no more renewals. b takes over after the TTL.
		deadline := time.Now().Add(3 * ttl)
		for b.Status().Role != Active {
			if time.Now().After(deadline) {
				t.Fatalf("b never took over: %+v", b.Status())
			}
			time.Sleep(ttl / 3) // b's renewal period, as in Run
			b.tick(ctx)
		}
		if got := b.Status().Token; got != sa.Token+1 {
			t.Fatalf("token %d after takeover, want %d", got, sa.Token+1)
		}
		if got := associated(); got != ib {
			t.Fatalf("EIP on %q after failover, want %s", got, ib)
		}
	})

	t.Run("ASG discovery", func(t *testing.T) {
		as := autoscaling.NewFromConfig(cfg)
		lt := "drawbridge-e2e-" + suffix
		if _, err := ec2c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
			LaunchTemplateName: aws.String(lt),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: imgs.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Micro},
		}); err != nil {
			t.Fatal(err)
		}
		group := "drawbridge-e2e-" + suffix
		_, err := as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(group), MinSize: aws.Int32(2), MaxSize: aws.Int32(2), DesiredCapacity: aws.Int32(2),
			LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(lt)},
			AvailabilityZones: []string{"us-east-1a"},
		})
		var apiErr interface{ ErrorCode() string }
		if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "InternalFailure" || apiErr.ErrorCode() == "NotImplemented") {
			t.Skipf("the emulator does not implement Auto Scaling groups: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = as.DeleteAutoScalingGroup(context.Background(), &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(group), ForceDelete: aws.Bool(true)})
		})
		p := &discovery.ASG{AutoScaling: as, EC2: ec2c, Group: group, Port: 8080}
		deadline := time.Now().Add(time.Minute)
		for {
			specs, err := p.Snapshot(ctx)
			if err == nil && len(specs) == 2 {
				t.Logf("discovered %v", specs)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("discovery never saw 2 InService instances: %v, %v", specs, err)
			}
			time.Sleep(time.Second) // the emulator launches the instances
		}
	})
}
