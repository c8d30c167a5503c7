package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drawbridge-dev/drawbridge/internal/lease"
)

// HolderReader is a Lease that can also say who holds it, so a passive
// node can show the active's name on its status page.
type HolderReader interface {
	Holder(ctx context.Context) (string, error)
}

// FileLease is internal/lease's File lease plus a read of its holder.
type FileLease struct {
	*lease.File
	Path string
}

// Holder reads the holder from the lease file (its JSON "holder" field),
// under a shared flock so it never sees a half-written file.
func (f FileLease) Holder(context.Context) (string, error) {
	fd, err := os.Open(f.Path)
	if err != nil {
		return "", fmt.Errorf("lease file: %w", err)
	}
	defer fd.Close()
	if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_SH); err != nil {
		return "", fmt.Errorf("lease file %s: flock: %w", f.Path, err)
	}
	var st struct {
		Holder string `json:"holder"`
	}
	if err := json.NewDecoder(fd).Decode(&st); err != nil {
		return "", fmt.Errorf("lease file %s: %w", f.Path, err)
	}
	return st.Holder, nil
}

// DynamoDBLease is internal/lease's DynamoDB lease plus a read of its
// holder (the item's "holder" attribute).
type DynamoDBLease struct {
	*lease.DynamoDB
	API   lease.DynamoAPI
	Table string
	Key   string
}

func (d DynamoDBLease) Holder(ctx context.Context) (string, error) {
	out, err := d.API.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.Table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: d.Key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("lease %s/%s: read holder: %w", d.Table, d.Key, err)
	}
	if s, ok := out.Item["holder"].(*types.AttributeValueMemberS); ok {
		return s.Value, nil
	}
	return "", nil
}
