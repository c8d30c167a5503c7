package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// TestDiscoveryMembershipSurvivesReload: a pool fed by a discovery file
// follows the file, and a config reload does not put the (empty) backends
// list back over the discovered members.
func TestDiscoveryMembershipSurvivesReload(t *testing.T) {
	bs := startBackends(t, 2)
	dir := t.TempDir()
	members := filepath.Join(dir, "members.yaml")
	writeConfig(t, members, fmt.Sprintf("- %s\n", bs[0].Addr()))
	path := filepath.Join(dir, "gateway.yaml")
	cfg := `listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
access_log: {enabled: false}
shutdown_timeout: %s
routes:
	- name: all
		pool: p
pools:
	- name: p
		discovery: {type: file, file: members.yaml, interval: 1h}
`
	writeConfig(t, path, fmt.Sprintf(cfg, "5s"))
	reload := make(chan struct{}, 1)
	rn := runGateway(t, path, reload)
	c := &http.Client{}
	url := "http://" + rn.addr + "/"
	body := func() string {
		resp, err := c.Get(url)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	testkit.Eventually(t, "the discovered backend", func() bool { return body() == "b0\n" })
	writeConfig(t, members, fmt.Sprintf("- %s\n", bs[1].Addr()))
	testkit.Eventually(t, "the file change", func() bool { return body() == "b1\n" })

	writeConfig(t, path, fmt.Sprintf(cfg, "4s"))
	reload <- struct{}{}
	testkit.Eventually(t, "the reload", func() bool { return rn.g.Config().ShutdownTimeout.String() == "4s" })
	for range 5 {
		if got := body(); got != "b1\n" {
			t.Fatalf("after reload: %q, want the discovered b1", got)
		}
	}
}

// TestFailoverFenceStatusAndHandover runs two gateways on one file lease
// (no shared address: the VIP names an interface that does not exist, so
// this test never touches the host's network). The active stamps its
// token on responses and reports itself in /status and /metrics; the
// passive answers 503; stopping the active hands over with a new token.
func TestFailoverFenceStatusAndHandover(t *testing.T) {
	bs := startBackends(t, 1)
	dir := t.TempDir()
	write := func(node string) string {
		p := filepath.Join(dir, node+".yaml")
		writeConfig(t, p, strings.Replace(runnerConfig(bs[0].Addr()), "shutdown_timeout: 5s", "shutdown_timeout: 1s", 1)+fmt.Sprintf(`failover:
	mode: local
	node: %s
	lease: {path: lease.json, ttl: 300ms}
	vip: {address: 192.168.255.1/32, interface: drawbridge-none0}
`, node))
		return p
	}
	a := runGateway(t, write("a"), nil)
	c := &http.Client{}
	getFrom := func(addr string) (int, http.Header) {
		resp, err := c.Get("http://" + addr + "/")
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header
	}
	testkit.Eventually(t, "a to become active", func() bool { s, _ := getFrom(a.addr); return s == http.StatusOK })
	_, h := getFrom(a.addr)
	if h.Get(FenceHeader) != "1" || h.Get(NodeHeader) != "a" {
		t.Fatalf("active headers: fence %q node %q", h.Get(FenceHeader), h.Get(NodeHeader))
	}
	st := a.g.Status().Failover
	if st == nil || st.Role != "active" || st.Holder != "a" || st.Token != 1 || st.Last == nil || st.Last.Reason != "lease acquired" {
		t.Fatalf("status %+v", st)
	}
	resp, err := c.Get("http://" + a.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`drawbridge_failover_role{node="a",role="active"} 1`, `drawbridge_failover_token{node="a"} 1`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	resp, err = c.Get("http://" + a.admin + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if _, ok := doc["failover"]; !ok {
		t.Fatalf("/status has no failover section: %v", doc)
	}

	b := runGateway(t, write("b"), nil)
	testkit.Eventually(t, "b to read the lease", func() bool { st := b.g.Status().Failover; return st.Token == 1 && st.Holder != "" })
	if s, h := getFrom(b.addr); s != http.StatusServiceUnavailable || h.Get(FenceHeader) != "" || h.Get(NodeHeader) != "b" {
		t.Fatalf("passive answered %d with fence %q", s, h.Get(FenceHeader))
	}
	if st := b.g.Status().Failover; st.Role != "passive" || st.Holder != "a" || st.Token != 1 {
		t.Fatalf("passive status %+v, want holder a, token 1", st)
	}
	a.cancel()
	<-a.done
	a.done <- nil // for the cleanup's receive
	testkit.Eventually(t, "b to take over", func() bool { s, _ := getFrom(b.addr); return s == http.StatusOK })
	if _, h := getFrom(b.addr); h.Get(FenceHeader) != "2" {
		t.Fatalf("token after handover %q, want 2", h.Get(FenceHeader))
	}
	if r := b.g.Status().Failover; r.Role != "active" || r.Last.Reason != "lease acquired" {
		t.Fatalf("b status %+v", r)
	}
	_ = os.Remove(filepath.Join(dir, "lease.json"))
}
