package acme_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/server"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// The tests run Pebble, Let's Encrypt's test CA, pinned as a Go tool
// dependency (go.mod's tool lines), with pebble-challtestsrv as its DNS
// server: every name resolves to 127.0.0.1, where the gateway under test
// listens on the ports Pebble validates (httpPort, tlsPort).

// issuance bounds one issuance: Pebble without its validation sleeps
// takes well under a second, but the machine may be busy.
const issuance = 60 * time.Second

// tools are the paths of the go.mod tools' binaries, built (once, then
// cached) by the go command; asked once per test binary, as each asking
// takes a second.
var tools struct {
	once                sync.Once
	pebble, chal, certs string // certs: Pebble's test certificates
	err                 error
}

func pebbleTools(t *testing.T) {
	t.Helper()
	goTool := testkit.GoTool(t, "Pebble")
	tools.once.Do(func() {
		run := func(args ...string) string {
			out, err := exec.Command(goTool, args...).Output()
			if err != nil && tools.err == nil {
				tools.err = fmt.Errorf("go %s: %v (the tools are pinned in go.mod)", strings.Join(args, " "), err)
			}
			return strings.TrimSpace(string(out))
		}
		tools.pebble, tools.chal = run("tool", "-n", "pebble"), run("tool", "-n", "pebble-challtestsrv")
		tools.certs = filepath.Join(run("list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2"), "test", "certs")
	})
	if tools.err != nil {
		t.Fatal(tools.err)
	}
}

// freePort is a TCP port free on ip (and, for the pair, on 127.0.0.2).
func freePort(t *testing.T, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs a program until the test ends or the returned stop; its
// output is logged if the test fails.
func start(t *testing.T, name string, env []string, argv ...string) (stop func()) {
	t.Helper()
	out := &testkit.Buffer{}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out)
		}
	})
	return stop
}

type pebble struct {
	dir      string         // the directory URL
	caFile   string         // trusts the directory's HTTPS
	mgmt     string         // the management listener (roots)
	dirRoots *x509.CertPool // for our own requests to it
	stop     func()         // the CA goes away
}

// startPebble runs challtestsrv and Pebble, validating on httpPort and
// tlsPort, issuing certificates valid for validity.
func startPebble(t *testing.T, httpPort, tlsPort int, validity time.Duration) *pebble {
	t.Helper()
	pebbleTools(t)
	certs := tools.certs
	dnsPort, chalMgmt := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	start(t, "pebble-challtestsrv", nil, tools.chal,
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort),
		"-management", fmt.Sprintf("127.0.0.1:%d", chalMgmt), "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")

	port, mgmt := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", port),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":                    filepath.Join(certs, "localhost", "cert.pem"),
		"privateKey":                     filepath.Join(certs, "localhost", "key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"profiles": map[string]any{"default": map[string]any{
			"description": "test", "validityPeriod": int(validity.Seconds())}},
	}}
	b, _ := json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "pebble.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	stop := start(t, "pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		tools.pebble, "-config", path, "-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort))

	p := &pebble{dir: fmt.Sprintf("https://localhost:%d/dir", port), caFile: filepath.Join(certs, "pebble.minica.pem"),
		mgmt: fmt.Sprintf("https://localhost:%d", mgmt), dirRoots: x509.NewCertPool(), stop: stop}
	pem, err := os.ReadFile(p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	p.dirRoots.AppendCertsFromPEM(pem)
	testkit.Eventually(t, "pebble's directory", func() bool {
		_, err := p.get("https://localhost:" + fmt.Sprint(port) + "/dir")
		return err == nil
	})
	return p
}

func (p *pebble) get(url string) ([]byte, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.dirRoots}}}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// issuingRoot is the root Pebble issues under (new on every Pebble run).
func (p *pebble) issuingRoot(t *testing.T) *x509.CertPool {
	t.Helper()
	pem, err := p.get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("pebble root: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("pebble root: no PEM in %q", pem)
	}
	return pool
}

type gw struct {
	g           *gateway.Gateway
	http, https string
	log         *testkit.Buffer
	stop        func()
}

// acmeBlock is a tls.acme block for p.
func acmeBlock(p *pebble, domain, storage, challenges, renewBefore string) string {
	return fmt.Sprintf(`  acme:
    directory: %s
    ca_file: %s
    email: ops@example.com
    agree_tos: true
    domains: [%s]
    storage: %s
    challenges: [%s]
    renew_before: %s
    check_interval: 200ms
`, p.dir, p.caFile, domain, storage, challenges, renewBefore)
}

// runGateway runs a gateway (the daemon's Runner) on ip's httpPort and
// tlsPort with the given tls section body (which may go on with top-level
// sections), until the test ends or stop.
func runGateway(t *testing.T, ip string, httpPort, tlsPort int, tlsBody string) *gw {
	t.Helper()
	be := testkit.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "routed") }))
	yaml := fmt.Sprintf(`listen: %s:%d
admin: {enabled: false}
access_log: {enabled: false}
pools: [{name: app, backends: [{address: %s}]}]
routes: [{name: all, match: {path_prefix: /}, pool: app}]
tls:
  listen: %s:%d
%s`, ip, httpPort, be.Addr(), ip, tlsPort, tlsBody)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", yaml, err)
	}
	g := &gw{log: &testkit.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	r := &server.Runner{Config: cfg, Options: gateway.Options{Logger: slog.New(slog.NewTextHandler(g.log, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		Ready: func(l server.Listeners, gg *gateway.Gateway) {
			g.g, g.http, g.https = gg, l.HTTP.String(), l.HTTPS.String()
			close(ready)
		}}
	go func() { done <- r.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("gateway: %v\n%s", err, g.log)
	}
	var once sync.Once
	g.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("gateway run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("gateway %s log:\n%s", g.https, g.log)
		}
	})
	return g
}

// served is the leaf the gateway's TLS listener presents for name, verified
// against roots; nil (and the error) when the handshake fails.
func served(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// waitServed waits until addr serves name a certificate chaining to roots
// whose serial differs from not (nil: any), and returns it.
func waitServed(t *testing.T, addr, name string, roots *x509.CertPool, not *big.Int) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	var last error
	if !testkit.Until(issuance, func() bool {
		leaf, last = served(addr, name, roots)
		return last == nil && (not == nil || leaf.SerialNumber.Cmp(not) != 0)
	}) {
		t.Fatalf("%s never served %s a certificate from Pebble (serial not %v): %v", addr, name, not, last)
	}
	return leaf
}

func TestPebbleIssues(t *testing.T) {
	for _, ch := range []string{"http-01", "tls-alpn-01"} {
		t.Run(ch, func(t *testing.T) {
			httpPort, tlsPort := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
			p := startPebble(t, httpPort, tlsPort, time.Hour)
			domain := "gw.example.com"
			began := time.Now()
			// redirect_http: the challenge is answered before the redirect.
			g := runGateway(t, "127.0.0.1", httpPort, tlsPort, "  redirect_http: true\n"+acmeBlock(p, domain, t.TempDir(), ch, "0s"))
			leaf := waitServed(t, g.https, domain, p.issuingRoot(t), nil)
			t.Logf("%s: certificate serial %x served %v after start", ch, leaf.SerialNumber, time.Since(began).Round(time.Millisecond))
			if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != domain {
				t.Errorf("names %v, want [%s]", leaf.DNSNames, domain)
			}
			want := "challenge_type=" + ch
			if !strings.Contains(g.log.String(), want) {
				t.Errorf("the log never says %s", want)
			}
		})
	}
}

// TestPebbleRenews: certificates valid for an hour, renew_before two hours,
// so every check renews; a renewed certificate (new serial, same names) is
// served without a restart.
func TestPebbleRenews(t *testing.T) {
	httpPort, tlsPort := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	p := startPebble(t, httpPort, tlsPort, time.Hour)
	domain := "renew.example.com"
	g := runGateway(t, "127.0.0.1", httpPort, tlsPort, acmeBlock(p, domain, t.TempDir(), "http-01, tls-alpn-01", "2h"))
	roots := p.issuingRoot(t)
	first := waitServed(t, g.https, domain, roots, nil)
	began := time.Now()
	next := waitServed(t, g.https, domain, roots, first.SerialNumber)
	t.Logf("renewed: serial %x replaced %x after %v", next.SerialNumber, first.SerialNumber, time.Since(began).Round(time.Millisecond))
	if !slices.Equal(next.DNSNames, first.DNSNames) {
		t.Errorf("renewed names %v, want %v", next.DNSNames, first.DNSNames)
	}
	if !strings.Contains(g.log.String(), "renewal=true") {
		t.Errorf("the log never reports a renewal")
	}
}

// TestPebbleSharedStorage: an active and a passive gateway (127.0.0.1 and
// 127.0.0.2, the same ports) in failover mode local (a file lease; the
// virtual IP on an interface that does not exist, so the host's network is
// never touched) share a storage directory. The passive one starts while
// the active one obtains the certificate: it waits on the storage lock and
// loads the certificate rather than obtaining another; both serve it. Then the CA goes away and the active gateway stops: the
// passive one takes the lease over and serves the same certificate.
func TestPebbleSharedStorage(t *testing.T) {
	httpPort, tlsPort := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	p := startPebble(t, httpPort, tlsPort, 24*time.Hour) // resolves names to 127.0.0.1: the active one
	domain := "pair.example.com"
	dir := t.TempDir()
	block := acmeBlock(p, domain, dir, "http-01, tls-alpn-01", "0s") + `failover:
  mode: local
  node: %s
  lease: {path: ` + filepath.Join(dir, "lease.json") + `, ttl: 300ms}
  vip: {address: 192.0.2.1/32, interface: drawbridge-none0}
`
	role := func(g *gw) string {
		if st := g.g.Status().Failover; st != nil {
			return string(st.Role)
		}
		return ""
	}
	active := runGateway(t, "127.0.0.1", httpPort, tlsPort, fmt.Sprintf(block, "a"))
	testkit.Eventually(t, "a to hold the lease", func() bool { return role(active) == "active" })
	passive := runGateway(t, "127.0.0.2", httpPort, tlsPort, fmt.Sprintf(block, "b"))
	testkit.Eventually(t, "b to be passive", func() bool { return role(passive) == "passive" })
	roots := p.issuingRoot(t)
	a := waitServed(t, active.https, domain, roots, nil)
	b := waitServed(t, passive.https, domain, roots, nil)
	if a.SerialNumber.Cmp(b.SerialNumber) != 0 {
		t.Fatalf("active serves serial %x, passive %x: two certificates were obtained", a.SerialNumber, b.SerialNumber)
	}
	byActive := strings.Count(active.log.String(), "acme: certificate obtained")
	byPassive := strings.Count(passive.log.String(), "acme: certificate obtained")
	t.Logf("obtained by the active: %d, by the passive: %d", byActive, byPassive)
	if byActive+byPassive != 1 {
		t.Errorf("certificates obtained: %d, want 1", byActive+byPassive)
	}

	p.stop()
	active.stop()
	began := time.Now()
	testkit.Eventually(t, "b to take over", func() bool { return role(passive) == "active" })
	after, err := served(passive.https, domain, roots)
	if err != nil {
		t.Fatalf("after failover: %v", err)
	}
	t.Logf("failover in %v; the new active serves serial %x (the old one served %x)", time.Since(began).Round(time.Millisecond), after.SerialNumber, a.SerialNumber)
	if after.SerialNumber.Cmp(a.SerialNumber) != 0 {
		t.Errorf("after failover: serial %x, want the old active's %x", after.SerialNumber, a.SerialNumber)
	}
}

// TestPebblePassiveFollowsRenewal: the passive gateway loads from storage
// what the active one renews (here at every check: renew_before beyond the
// validity), and serves it without obtaining anything itself.
func TestPebblePassiveFollowsRenewal(t *testing.T) {
	httpPort, tlsPort := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	p := startPebble(t, httpPort, tlsPort, time.Hour)
	domain := "follow.example.com"
	storage := t.TempDir()
	active := runGateway(t, "127.0.0.1", httpPort, tlsPort, acmeBlock(p, domain, storage, "http-01", "2h"))
	roots := p.issuingRoot(t)
	waitServed(t, active.https, domain, roots, nil)
	passive := runGateway(t, "127.0.0.2", httpPort, tlsPort, acmeBlock(p, domain, storage, "http-01", "0s"))
	first := waitServed(t, passive.https, domain, roots, nil)
	began := time.Now()
	next := waitServed(t, passive.https, domain, roots, first.SerialNumber)
	t.Logf("the passive moved from serial %x to the renewed %x after %v", first.SerialNumber, next.SerialNumber, time.Since(began).Round(time.Millisecond))
	if strings.Contains(passive.log.String(), "acme: certificate obtained") {
		t.Error("the passive obtained a certificate itself")
	}
}
