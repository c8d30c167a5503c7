package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func TestL4ListenerThroughRunner(t *testing.T) {
	a, b := testkit.StartEcho(t, "a").Addr(), testkit.StartEcho(t, "b").Addr()
	l4Port := testkit.DeadAddr(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	conf := func(backend string) string {
		return runnerConfig(startBackends(t, 1)[0].Addr()) + fmt.Sprintf(`l4:
	- name: echo
		listen: %s
		backends: [{address: %s}]
		health_check: {interval: 1s, timeout: 500ms}
`, l4Port, backend)
	}
	writeConfig(t, path, conf(a))
	reload := make(chan struct{}, 1)
	rn := runGateway(t, path, reload)

	ask := func() string {
		c, err := net.Dial("tcp", l4Port)
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "ping\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err.Error()
		}
		return strings.TrimSpace(line)
	}
	if got := ask(); got != "a:ping" {
		t.Fatalf("through the L4 listener: %q", got)
	}
	writeConfig(t, path, conf(b))
	reload <- struct{}{}
	testkit.Eventually(t, "membership moved to b", func() bool { return ask() == "b:ping" })
	if st := rn.g.Status(); st.L4["echo"].Accepted < 2 {
		t.Fatalf("status: %+v", st.L4)
	}
}
