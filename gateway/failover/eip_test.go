package failover

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/drawbridge-dev/drawbridge/autoscaler/awsclient"
	"github.com/drawbridge-dev/drawbridge/autoscaler/lease"
	"github.com/drawbridge-dev/drawbridge/clock"
)

// fakeEC2 speaks the EC2 query protocol for AssociateAddress: form-encoded
// parameters in, XML in the EC2 namespace out, EC2's error envelope. Like
// EC2, it refuses to move an associated address without
// AllowReassociation.
type fakeEC2 struct {
	mu       sync.Mutex
	assoc    map[string]string // allocation id -> instance id
	throttle int
	calls    int
}

func (f *fakeEC2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	_ = r.ParseForm()
	fail := func(status int, code string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>r</RequestID></Response>`, code, code)
	}
	if f.throttle > 0 {
		f.throttle--
		fail(http.StatusServiceUnavailable, "RequestLimitExceeded")
		return
	}
	if a := r.PostForm.Get("Action"); a != "AssociateAddress" {
		fail(http.StatusBadRequest, "InvalidAction")
		return
	}
	alloc, inst := r.PostForm.Get("AllocationId"), r.PostForm.Get("InstanceId")
	if cur, ok := f.assoc[alloc]; ok && cur != inst && r.PostForm.Get("AllowReassociation") != "true" {
		fail(http.StatusBadRequest, "Resource.AlreadyAssociated")
		return
	}
	f.assoc[alloc] = inst
	fmt.Fprint(w, `<AssociateAddressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><return>true</return><associationId>eipassoc-1</associationId></AssociateAddressResponse>`)
}

func (f *fakeEC2) associated(alloc string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.assoc[alloc]
}

// TestEIPFollowsLease: the Elastic IP is associated with whichever node
// acquires the lease, over the EC2 wire protocol, with throttling retried.
func TestEIPFollowsLease(t *testing.T) {
	f := &fakeEC2{assoc: map[string]string{}, throttle: 2}
	srv := httptest.NewServer(f)
	defer srv.Close()
	api := ec2.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsclient.Retryer(awsclient.Options{MaxAttempts: 4, MaxBackoff: 5 * time.Millisecond})
		},
	})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	path := filepath.Join(t.TempDir(), "lease.json")
	mk := func(node, instance string) *Controller {
		c, err := New(Config{Node: node, TTL: ttl, Lease: lease.NewFile(path, clk), Clock: clk,
			Address: &EIP{API: api, AllocationID: "eipalloc-1", InstanceID: instance}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk("a", "i-a"), mk("b", "i-b")
	ctx := context.Background()
	a.tick(ctx)
	b.tick(ctx)
	if got := f.associated("eipalloc-1"); got != "i-a" || !a.Status().AddressHeld {
		t.Fatalf("EIP -> %q (held %v), want i-a", got, a.Status().AddressHeld)
	}
	if f.calls != 3 {
		t.Fatalf("%d EC2 calls, want 3 (2 throttled and retried)", f.calls)
	}
	clk.Advance(ttl) // a stopped renewing (dead)
	b.tick(ctx)
	wantRole(t, b, Active, 2)
	if got := f.associated("eipalloc-1"); got != "i-b" {
		t.Fatalf("EIP -> %q after failover, want i-b", got)
	}
}
