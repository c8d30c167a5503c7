package infra

import (
	"github.com/drawbridge-dev/drawbridge/infra/boot"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Binary is where instances fetch the binary from (infra/boot's type).
type Binary = boot.Binary

// BinaryOutput says where instances fetch the drawbridge binary: Static holds
// the release URL and checksum; Bucket/Key are set (as outputs) when the
// binary is uploaded to the stack's artifact bucket, and empty otherwise.
type BinaryOutput struct {
	Static Binary
	Bucket pulumi.StringOutput
	Key    pulumi.StringOutput
}

// BinaryDeliveryArgs: either a release URL, or a locally built file.
type BinaryDeliveryArgs struct {
	Name      string
	URL       string
	SHA256    string
	LocalPath string // used when URL is empty
	Arch      string
	Tags      Tags
}

// BinaryDelivery is an artifact bucket holding the linux drawbridge binary,
// or nothing at all when a release URL is configured.
type BinaryDelivery struct {
	pulumi.ResourceState
	Binary BinaryOutput
}

// NewBinaryDelivery uploads the binary (when built locally) and says where
// user data fetches it from.
func NewBinaryDelivery(ctx *pulumi.Context, name string, args *BinaryDeliveryArgs, opts ...pulumi.ResourceOption) (*BinaryDelivery, error) {
	d := &BinaryDelivery{}
	if err := ctx.RegisterComponentResource("drawbridge:infra:BinaryDelivery", name, d, opts...); err != nil {
		return nil, err
	}
	empty := pulumi.String("").ToStringOutput()
	if args.URL != "" {
		d.Binary = BinaryOutput{Static: Binary{URL: args.URL, SHA256: args.SHA256}, Bucket: empty, Key: empty}
		return d, ctx.RegisterResourceOutputs(d, pulumi.Map{"url": pulumi.String(args.URL)})
	}
	sum, err := fileSHA256(args.LocalPath)
	if err != nil {
		return nil, fmt.Errorf("drawbridge binary: %w", err)
	}
	bucket, err := newPrivateBucket(ctx, name+"-artifacts", args.Tags, pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	// The key carries the checksum, so a new binary is a new object and the
	// user data (which names it) changes with it.
	key := fmt.Sprintf("drawbridge/%s/drawbridge-linux-%s", sum[:16], args.Arch)
	obj, err := s3.NewBucketObjectv2(ctx, name+"-binary", &s3.BucketObjectv2Args{
		Bucket:               bucket.ID(),
		Key:                  pulumi.String(key),
		Source:               pulumi.NewFileAsset(args.LocalPath),
		ServerSideEncryption: pulumi.String("AES256"),
		Tags:                 args.Tags.Map("Name", "drawbridge-linux-"+args.Arch),
	}, pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	d.Binary = BinaryOutput{Static: Binary{SHA256: sum}, Bucket: bucket.Bucket, Key: obj.Key}
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{"bucket": bucket.Bucket, "key": obj.Key})
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// GoBuild builds ./cmd/drawbridge for linux/arch from the project root and
// returns the binary's path. Static (CGO off) so it runs on any AMI.
func GoBuild(ctx context.Context, root, arch string) (string, error) {
	dir := filepath.Join(os.TempDir(), "drawbridge-infra-build")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "drawbridge-linux-"+arch)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/drawbridge")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/drawbridge for linux/%s: %v\n%s", arch, err, b)
	}
	return out, nil
}
