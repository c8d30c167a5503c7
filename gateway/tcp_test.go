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
)

// tcpEcho answers each line with its name and the line.
func tcpEcho(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					_, _ = io.WriteString(c, name+":"+line)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestL4ListenerThroughRunner(t *testing.T) {
	a, b := tcpEcho(t, "a"), tcpEcho(t, "b")
	l4Port := deadAddr(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	conf := func(backend string) string {
		return runnerConfig(startBackends(t, 1)[0].addr()) + fmt.Sprintf(`l4:
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
	waitFor(t, "membership moved to b", func() bool { return ask() == "b:ping" })
	if st := rn.g.Status(); st.L4["echo"].Accepted < 2 {
		t.Fatalf("status: %+v", st.L4)
	}
}
