// Package awsclient builds the aws.Config every AWS client of the gateway
// and the autoscaler shares: the standard credential and region chain, an endpoint
// override for LocalStack and other emulators, and a retryer that backs off
// on throttling and 5xx answers.
package awsclient

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Options tune the shared configuration. Zero values mean the SDK defaults.
type Options struct {
	Region string
	// RegionKey is the config key that sets Region ("aws.region",
	// "failover.region"...), named when no region is found; default
	// "aws.region".
	RegionKey string
	// Endpoint overrides every service's endpoint (e.g.
	// http://localhost:4566). Empty leaves the SDK chain in charge, which
	// honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> itself.
	Endpoint string
	// MaxAttempts bounds tries per call, the first included (default 5).
	MaxAttempts int
	// MaxBackoff caps the jittered exponential back-off between tries
	// (default 20s, the SDK's).
	MaxBackoff time.Duration
}

// Load resolves the configuration through config.LoadDefaultConfig.
func Load(ctx context.Context, o Options, extra ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return Retryer(o) }),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	opts = append(opts, extra...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		// Emulators do not care about the region but the signer needs one;
		// a silent default here would hide a misconfiguration on AWS, so
		// only fill it in when an endpoint override says "emulator".
		if cfg.BaseEndpoint != nil {
			cfg.Region = "us-east-1"
		} else {
			key := o.RegionKey
			if key == "" {
				key = "aws.region"
			}
			return aws.Config{}, fmt.Errorf("aws config: no region: set %s in the config, or AWS_REGION, or region in the AWS_PROFILE's section of ~/.aws/config", key)
		}
	}
	return cfg, nil
}

// Retryer is the SDK's standard retryer (jittered exponential back-off on
// throttling, 5xx and transient network errors) with our attempt and
// back-off bounds.
func Retryer(o Options) aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 5
		if o.MaxAttempts > 0 {
			so.MaxAttempts = o.MaxAttempts
		}
		if o.MaxBackoff > 0 {
			so.MaxBackoff = o.MaxBackoff
			so.Backoff = retry.NewExponentialJitterBackoff(o.MaxBackoff)
		}
	})
}
