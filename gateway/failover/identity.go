package failover

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// Identity is what a gateway learns about its own instance at start: the
// facts that differ between the two gateways, so that they can share one
// config file.
type Identity struct {
	InstanceID string
	Region     string
	PrivateIP  string
}

// IdentityAPI is the part of the IMDS client Lookup uses.
type IdentityAPI interface {
	GetInstanceIdentityDocument(ctx context.Context, in *imds.GetInstanceIdentityDocumentInput, optFns ...func(*imds.Options)) (*imds.GetInstanceIdentityDocumentOutput, error)
}

// NewIMDS returns the IMDSv2 client (token PUT, then GET) at the standard
// address, or AWS_EC2_METADATA_SERVICE_ENDPOINT when set.
func NewIMDS() *imds.Client { return imds.New(imds.Options{}) }

// LookupIdentity reads the instance identity document, retrying every
// retry until it answers or ctx ends. It logs one line when the first try
// fails and one when it recovers, not one per try.
func LookupIdentity(ctx context.Context, api IdentityAPI, clk clock.Clock, retry time.Duration, log *slog.Logger) (Identity, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	failed := false
	for {
		cctx, cancel := context.WithTimeout(ctx, max(retry, time.Second))
		out, err := api.GetInstanceIdentityDocument(cctx, &imds.GetInstanceIdentityDocumentInput{})
		cancel()
		if err == nil && out.InstanceID != "" {
			id := Identity{InstanceID: out.InstanceID, Region: out.Region, PrivateIP: out.PrivateIP}
			if failed {
				log.Info("failover: instance metadata reachable again", "instance", id.InstanceID)
			}
			return id, nil
		}
		if ctx.Err() != nil {
			return Identity{}, ctx.Err()
		}
		if err == nil {
			err = fmt.Errorf("identity document without an instanceId")
		}
		if !failed {
			log.Error("failover: cannot read this instance's identity from IMDS; passive until it answers, retrying", "every", retry.String(), "error", err.Error())
			failed = true
		}
		done := make(chan struct{})
		t := clk.AfterFunc(retry, func() { close(done) })
		select {
		case <-ctx.Done():
			t.Stop()
			return Identity{}, ctx.Err()
		case <-done:
		}
	}
}
