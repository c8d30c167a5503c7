package loadsource

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// TestCloudWatchCBORHint: the SDK's default (CBOR) client against
// endpoints that do not speak CBOR, as moto and older LocalStack answer,
// gets an error pointing to metric.protocol: query; AWS's own CBOR errors,
// a query-protocol client and a dead endpoint do not.
func TestCloudWatchCBORHint(t *testing.T) {
	const hint = "set metric.protocol: query"
	cases := []struct {
		name, protocol, contentType string
		status                      int
		body                        []byte
		want                        bool
	}{
		{"html 404", ProtocolCBOR, "text/html", 404, []byte("<html><body>Not Found</body></html>"), true},
		{"query InvalidAction", "", "text/xml", 400,
			[]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>Could not find operation</Message></Error></ErrorResponse>`), true},
		{"cbor AccessDenied from AWS", ProtocolCBOR, "application/cbor", 403,
			cbor.Encode(cbor.Map{"__type": cbor.String("AccessDenied"), "message": cbor.String("not allowed")}), false},
		{"query client", ProtocolQuery, "text/html", 404, []byte("<html>Not Found</html>"), false},
	}
	for _, tc := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", tc.contentType)
			w.WriteHeader(tc.status)
			w.Write(tc.body) //nolint:errcheck
		}))
		cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), RetryMaxAttempts: 1}
		client, err := NewCloudWatchClient(cfg, tc.protocol)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewCloudWatch(client, CloudWatchMetric{Namespace: "n", MetricName: "m", Protocol: tc.protocol}).Query(context.Background(),
			autoscaler.Query{From: t0, To: t0.Add(time.Minute), Step: time.Minute})
		srv.Close()
		if err == nil {
			t.Fatalf("%s: no error", tc.name)
		}
		if got := strings.Contains(err.Error(), hint); got != tc.want {
			t.Errorf("%s: hint %v, want %v: %v", tc.name, got, tc.want, err)
		}
	}

	// Nothing listening: a network error, not a protocol one.
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), RetryMaxAttempts: 1}
	client, _ := NewCloudWatchClient(cfg, ProtocolCBOR)
	_, err := NewCloudWatch(client, CloudWatchMetric{Namespace: "n", MetricName: "m"}).Query(context.Background(),
		autoscaler.Query{From: t0, To: t0.Add(time.Minute), Step: time.Minute})
	if err == nil || strings.Contains(err.Error(), hint) {
		t.Errorf("dead endpoint: %v; want an error without the protocol hint", err)
	}
}
