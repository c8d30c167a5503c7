package lease

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// DynamoAPI is the part of the DynamoDB client the lease uses.
type DynamoAPI interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// DynamoDB is a lease stored as one item (partition key "pk", a string) of
// table: holder, expires_at (Unix milliseconds) and token. Every change is
// a conditional UpdateItem, so two replicas racing for an expired lease
// cannot both win.
type DynamoDB struct {
	api   DynamoAPI
	table string
	key   string
	clock clock.Clock
}

// NewDynamoDB returns the lease named key in table.
func NewDynamoDB(api DynamoAPI, table, key string, clk clock.Clock) *DynamoDB {
	return &DynamoDB{api: api, table: table, key: key, clock: clk}
}

// The condition expressions are part of the lease's contract (the test
// server evaluates exactly these).
const (
	condRenew    = "#holder = :me"
	condTakeOver = "attribute_not_exists(pk) OR expires_at < :now"
	condRelease  = "#holder = :me"
)

func (d *DynamoDB) TryAcquire(ctx context.Context, holder string, ttl time.Duration) (bool, uint64, error) {
	now := d.clock.Now()
	me := &types.AttributeValueMemberS{Value: holder}
	exp := &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(ttl).UnixMilli(), 10)}
	// Renew first: the common case for the active replica, and it keeps
	// the token because the lease does not change hands. Then take over
	// a lease that is free or expired, with the next token.
	attempts := []struct {
		what, set, cond string
		names           map[string]string
		values          map[string]types.AttributeValue
	}{
		{"renew", "SET expires_at = :exp", condRenew,
			map[string]string{"#holder": "holder"},
			map[string]types.AttributeValue{":me": me, ":exp": exp}},
		{"take over", "SET #holder = :me, expires_at = :exp, #token = if_not_exists(#token, :zero) + :one", condTakeOver,
			map[string]string{"#holder": "holder", "#token": "token"},
			map[string]types.AttributeValue{
				":me":   me,
				":exp":  exp,
				":now":  &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
				":zero": &types.AttributeValueMemberN{Value: "0"},
				":one":  &types.AttributeValueMemberN{Value: "1"},
			}},
	}
	for _, a := range attempts {
		out, err := d.update(ctx, a.set, a.cond, a.names, a.values)
		if err == nil {
			return true, tokenOf(out.Attributes), nil
		}
		if !isConditionFailed(err) {
			return false, 0, fmt.Errorf("lease %s/%s: %s: %w", d.table, d.key, a.what, err)
		}
	}
	// Someone else holds it; report their token for the status page.
	got, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.table), Key: d.itemKey(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, 0, fmt.Errorf("lease %s/%s: read: %w", d.table, d.key, err)
	}
	return false, tokenOf(got.Item), nil
}

func (d *DynamoDB) Release(ctx context.Context, holder string) error {
	// Expire rather than delete: the token must survive so the next
	// holder's is higher.
	_, err := d.update(ctx, "SET expires_at = :zero", condRelease,
		map[string]string{"#holder": "holder"},
		map[string]types.AttributeValue{
			":me":   &types.AttributeValueMemberS{Value: holder},
			":zero": &types.AttributeValueMemberN{Value: "0"},
		})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("lease %s/%s: release: %w", d.table, d.key, err)
	}
	return nil
}

// update is a conditional UpdateItem of the lease's item; the output
// holds the item as it is after the update.
func (d *DynamoDB) update(ctx context.Context, set, cond string, names map[string]string, values map[string]types.AttributeValue) (*dynamodb.UpdateItemOutput, error) {
	return d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       d.itemKey(),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
}

func (d *DynamoDB) itemKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: d.key}}
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

func tokenOf(item map[string]types.AttributeValue) uint64 {
	if n, ok := item["token"].(*types.AttributeValueMemberN); ok {
		t, _ := strconv.ParseUint(n.Value, 10, 64)
		return t
	}
	return 0
}

// Holder reads who holds the lease (a consistent read of the item).
func (d *DynamoDB) Holder(ctx context.Context) (string, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: d.key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("lease %s/%s: read holder: %w", d.table, d.key, err)
	}
	h, ok := out.Item["holder"].(*types.AttributeValueMemberS)
	exp, ok2 := out.Item["expires_at"].(*types.AttributeValueMemberN)
	if !ok || !ok2 {
		return "", nil
	}
	ms, err := strconv.ParseInt(exp.Value, 10, 64)
	if err != nil || !d.clock.Now().Before(time.UnixMilli(ms)) {
		return "", nil
	}
	return h.Value, nil
}
