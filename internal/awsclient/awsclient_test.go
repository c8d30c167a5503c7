package awsclient

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func TestLoad(t *testing.T) {
	cases := []struct {
		name       string
		opt        Options
		envURL     string
		wantRegion string
		wantErr    string
		wantBase   string
	}{
		{name: "region from config", opt: Options{Region: "eu-west-1"}, wantRegion: "eu-west-1"},
		{name: "no region on AWS is an error", wantErr: "no region: set aws.region in the config, or AWS_REGION"},
		{name: "no region names the caller's key", opt: Options{RegionKey: "failover.region"}, wantErr: "no region: set failover.region in the config"},
		{name: "emulator endpoint defaults the region", opt: Options{Endpoint: "http://localhost:4566"},
			wantRegion: "us-east-1", wantBase: "http://localhost:4566"},
		{name: "AWS_ENDPOINT_URL is honoured", envURL: "http://localhost:4566", opt: Options{Region: "eu-west-1"},
			wantRegion: "eu-west-1", wantBase: "http://localhost:4566"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_REGION", "")
			t.Setenv("AWS_DEFAULT_REGION", "")
			t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
			t.Setenv("AWS_ENDPOINT_URL", tc.envURL)
			cfg, err := Load(context.Background(), tc.opt)
			if testkit.WantErr(t, err, tc.wantErr) {
				return
			}
			if cfg.Region != tc.wantRegion || aws.ToString(cfg.BaseEndpoint) != tc.wantBase {
				t.Fatalf("region %q base %q, want %q %q", cfg.Region, aws.ToString(cfg.BaseEndpoint), tc.wantRegion, tc.wantBase)
			}
			if cfg.Retryer().MaxAttempts() != 5 {
				t.Errorf("max attempts %d, want 5", cfg.Retryer().MaxAttempts())
			}
		})
	}
}
