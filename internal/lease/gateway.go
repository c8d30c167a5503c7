package lease

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Gateway is the lease of an autoscaler that runs beside an active-passive
// gateway: it is held exactly while the gateway at URL reports itself the
// active one in its admin /status, and its token is the gateway's fencing
// token. Both gateways run an autoscaler that reads its own gateway's
// metrics; only the active gateway sees traffic, so only the autoscaler
// beside it may act (one on the passive would see no load and scale in).
// The gateway's DynamoDB lease already elects one node, so nothing is
// stored here and Release has nothing to give back.
type Gateway struct {
	URL    string       // the gateway's admin base URL, e.g. http://127.0.0.1:9090
	Client *http.Client // nil: a client with a 2 s timeout
}

// NewGateway returns the lease that follows the gateway at adminURL.
func NewGateway(adminURL string, client *http.Client) *Gateway {
	return &Gateway{URL: adminURL, Client: client}
}

func (g *Gateway) TryAcquire(ctx context.Context, _ string, ttl time.Duration) (bool, uint64, error) {
	c := g.Client
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Second}
	}
	// A status older than the TTL is no evidence: bound the call by it.
	ctx, cancel := context.WithTimeout(ctx, ttl)
	defer cancel()
	u := strings.TrimSuffix(g.URL, "/") + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, 0, fmt.Errorf("gateway lease: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, 0, fmt.Errorf("gateway lease: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, 0, fmt.Errorf("gateway lease: GET %s: %s", u, resp.Status)
	}
	var st struct {
		Failover *struct {
			Role  string `json:"role"`
			Token uint64 `json:"token"`
		} `json:"failover"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&st); err != nil {
		return false, 0, fmt.Errorf("gateway lease: GET %s: %w", u, err)
	}
	if st.Failover == nil {
		return false, 0, fmt.Errorf("gateway lease: the gateway at %s runs without failover; use lease type none or dynamodb", g.URL)
	}
	return st.Failover.Role == "active", st.Failover.Token, nil
}

func (g *Gateway) Release(context.Context, string) error { return nil }
