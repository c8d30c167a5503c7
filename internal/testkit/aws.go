package testkit

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AWS serves api (the AWS double, internal/awsdouble, or a handler that
// misbehaves on purpose) on loopback until the test ends and returns an
// SDK config that reaches it: region us-east-1, static test credentials,
// the SDK's default retryer (set Retryer to test back-off).
func AWS(t testing.TB, api http.Handler) aws.Config {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	}
}
