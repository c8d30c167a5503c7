package loadsource

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// CloudWatch wire protocols. The SDK's cloudwatch client speaks Smithy RPC
// v2 CBOR since v1.53; AWS accepts both, but many emulators (older
// LocalStack, moto) only speak the query protocol, so it is configurable.
const (
	ProtocolCBOR  = "cbor"
	ProtocolQuery = "query"
)

// NewCloudWatchClient builds a client on cfg (region, endpoint override,
// retryer) speaking protocol ("" means CBOR, the SDK's default).
func NewCloudWatchClient(cfg aws.Config, protocol string) (*cloudwatch.Client, error) {
	switch protocol {
	case "", ProtocolCBOR:
		return cloudwatch.NewFromConfig(cfg), nil
	case ProtocolQuery:
		return cloudwatch.NewFromConfig(cfg, WithQueryProtocol), nil
	default:
		return nil, fmt.Errorf("cloudwatch protocol %q: want %q or %q", protocol, ProtocolCBOR, ProtocolQuery)
	}
}

// WithQueryProtocol switches a cloudwatch client to the query protocol.
func WithQueryProtocol(o *cloudwatch.Options) {
	o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801)
}

// CloudWatchAPI is the part of the client the source uses.
type CloudWatchAPI interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// CloudWatchMetric names one CloudWatch metric and its statistic.
type CloudWatchMetric struct {
	Namespace  string
	MetricName string
	Dimensions map[string]string
	Statistic  string // Sum, Average, Maximum, p99 ...; default Sum
	// Protocol is the client's wire protocol ("" is cbor), so an error
	// from an endpoint that lacks it can say what to set instead.
	Protocol string
}

// CloudWatch reads one metric with GetMetricData. Values are in the
// statistic's unit per period (Sum of RequestCount over 60 s is requests
// per minute): capacity_per_instance must be in the same unit.
type CloudWatch struct {
	api    CloudWatchAPI
	metric CloudWatchMetric
}

// NewCloudWatch reads m through api.
func NewCloudWatch(api CloudWatchAPI, m CloudWatchMetric) *CloudWatch {
	if m.Statistic == "" {
		m.Statistic = "Sum"
	}
	return &CloudWatch{api: api, metric: m}
}

// Query reads [q.From, q.To) at period q.Step, rounded up to a whole
// minute (standard-resolution metrics have no finer period).
func (c *CloudWatch) Query(ctx context.Context, q autoscaler.Query) ([]autoscaler.Sample, error) {
	in := c.input(q)
	var out []autoscaler.Sample
	for page := 0; ; page++ {
		res, err := c.api.GetMetricData(ctx, in)
		if err != nil {
			if c.metric.Protocol != ProtocolQuery && lacksCBOR(err) {
				return nil, fmt.Errorf("cloudwatch %s/%s: %w (the endpoint does not seem to speak CloudWatch's Smithy RPC v2 CBOR protocol, the SDK's default; emulators such as moto and older LocalStack speak only the query protocol: set metric.protocol: query)",
					c.metric.Namespace, c.metric.MetricName, err)
			}
			return nil, fmt.Errorf("cloudwatch %s/%s: %w", c.metric.Namespace, c.metric.MetricName, err)
		}
		for _, r := range res.MetricDataResults {
			if r.StatusCode == types.StatusCodeForbidden || r.StatusCode == types.StatusCodeInternalError {
				return nil, fmt.Errorf("cloudwatch %s/%s: status %s", c.metric.Namespace, c.metric.MetricName, r.StatusCode)
			}
			if len(r.Timestamps) != len(r.Values) {
				return nil, fmt.Errorf("cloudwatch %s/%s: %d timestamps for %d values", c.metric.Namespace, c.metric.MetricName, len(r.Timestamps), len(r.Values))
			}
			for i, ts := range r.Timestamps {
				if math.IsNaN(r.Values[i]) {
					continue
				}
				out = append(out, autoscaler.Sample{Time: ts.UTC(), Value: r.Values[i]})
			}
		}
		if res.NextToken == nil || *res.NextToken == "" || page > 100 {
			break
		}
		in.NextToken = res.NextToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// lacksCBOR reports whether err is an answer from an endpoint that did not
// understand a CBOR request: a body the CBOR decoder could not read, an
// answer that is not CBOR at all (moto answers HTML or XML), or an error
// code saying the operation or protocol is unknown. Network errors and
// AWS's own CBOR errors (AccessDenied, Throttling...) are not.
func lacksCBOR(err error) bool {
	if strings.Contains(err.Error(), "metric.protocol") {
		return false // the endpoint said so itself
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "UnsupportedProtocol", "UnknownOperationException", "UnknownOperation", "InvalidAction", "NotFound":
			return true
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 { // 0: no answer at all
		return !strings.HasPrefix(re.Response.Header.Get("Content-Type"), "application/cbor")
	}
	return false
}

func (c *CloudWatch) input(q autoscaler.Query) *cloudwatch.GetMetricDataInput {
	period := int32(math.Ceil(q.Step.Minutes())) * 60
	if period <= 0 {
		period = 60
	}
	dims := make([]types.Dimension, 0, len(c.metric.Dimensions))
	for k, v := range c.metric.Dimensions {
		dims = append(dims, types.Dimension{Name: aws.String(k), Value: aws.String(v)})
	}
	sort.Slice(dims, func(i, j int) bool { return *dims[i].Name < *dims[j].Name })
	return &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(q.From),
		EndTime:   aws.Time(q.To),
		ScanBy:    types.ScanByTimestampAscending,
		MetricDataQueries: []types.MetricDataQuery{{
			Id: aws.String("load"),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{
					Namespace:  aws.String(c.metric.Namespace),
					MetricName: aws.String(c.metric.MetricName),
					Dimensions: dims,
				},
				Period: aws.Int32(period),
				Stat:   aws.String(c.metric.Statistic),
			},
			ReturnData: aws.Bool(true),
		}},
	}
}
