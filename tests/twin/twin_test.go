// Package twin runs a stack's traffic core, as user data installs it, on a
// twin of the stack's network made of Linux network namespaces, against
// the wire-protocol AWS double (internal/awsdouble).
//
//	inet (client) ──203.0.113.0/30── rtr (VPC router + IGW, forwards)
//	                                  ├─ public subnet per AZ (bridge): gw0, gw1
//	                                  └─ private subnet per AZ (bridge): one namespace per backend instance
//
// inet routes only the EIP (/32, via rtr); rtr routes the EIP to whichever
// gateway the double says it is associated with. So the client reaches the
// gateway holding the EIP and nothing in the private subnets.
package twin

import (
	"net/http"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
	"github.com/drawbridge-dev/drawbridge/internal/testkit/netns"
)

const (
	eip        = "198.51.100.7"
	apiAddr    = "169.254.170.10:4566" // where the twin's gateways reach the AWS double
	imdsAddr   = "169.254.169.254:80"
	launchWait = 500 * time.Millisecond // the double's modelled instance boot time
	twinLogs   = "DRAWBRIDGE_TWIN_LOGS" // set it to see the processes' logs
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func mustPrefix(t *testing.T, s string) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// host is one address in prefix p.
func host(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) + uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// load sends GETs to the EIP from inet at rate, open loop, over
// keep-alive connections as browsers and API clients do: a connection
// lives until the gateway behind it goes away, then the client dials again
// and reaches whichever gateway holds the EIP now.
type load struct {
	netns.Record
	mu   sync.Mutex
	rate float64 // requests per second
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func startLoad(ns string, rate float64) *load {
	l := &load{rate: rate, stop: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{DialContext: netns.Dialer(ns), MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}, Timeout: 5 * time.Second}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer client.CloseIdleConnections()
		next := time.Now()
		for {
			l.mu.Lock()
			next = next.Add(time.Duration(float64(time.Second) / l.rate))
			l.mu.Unlock()
			select {
			case <-l.stop:
				return
			case <-time.After(time.Until(next)): // pacing the offered load
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.Get(client, "http://"+eip+"/")
			}()
		}
	}()
	return l
}

func (l *load) setRate(r float64) { l.mu.Lock(); l.rate = r; l.mu.Unlock() }
func (l *load) halt()             { l.once.Do(func() { close(l.stop) }); l.wg.Wait() }

func TestTwinProd(t *testing.T)    { runTwin(t, "prod") }
func TestTwinStaging(t *testing.T) { runTwin(t, "staging") }
func TestTwinDev(t *testing.T)     { runTwin(t, "dev") }
