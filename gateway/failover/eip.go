package failover

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// EC2API is the part of the EC2 client the Elastic IP mover uses.
type EC2API interface {
	AssociateAddress(ctx context.Context, in *ec2.AssociateAddressInput, optFns ...func(*ec2.Options)) (*ec2.AssociateAddressOutput, error)
}

// EIP is an Elastic IP associated with this node's instance on takeover.
// AllowReassociation moves it away from the failed peer in one call, so
// there is no window in which the address points nowhere by our doing.
type EIP struct {
	API          EC2API
	AllocationID string
	InstanceID   string
}

func (e *EIP) String() string { return e.AllocationID + " -> " + e.InstanceID }

func (e *EIP) Acquire(ctx context.Context) error {
	_, err := e.API.AssociateAddress(ctx, &ec2.AssociateAddressInput{
		AllocationId:       aws.String(e.AllocationID),
		InstanceId:         aws.String(e.InstanceID),
		AllowReassociation: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("associate %s with %s: %w", e.AllocationID, e.InstanceID, err)
	}
	return nil
}

// Release does nothing: the next holder reassociates the address, and
// until then the fence (Controller.Fence) keeps this node from answering.
// Disassociating here would only lengthen the outage if no peer is ready.
func (e *EIP) Release(context.Context) error { return nil }
