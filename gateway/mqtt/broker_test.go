package mqtt_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/mqtt"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// broker is a Debian mosquitto process on its own loopback port.
type broker struct {
	Addr string
	cmd  *exec.Cmd
	log  string // its output, for failure messages
}

func (b *broker) output() string {
	out, _ := os.ReadFile(b.log)
	return string(out)
}

// mosquittoPath finds the broker (Debian installs it in /usr/sbin, which
// a test's PATH may lack) or skips the test.
func mosquittoPath(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	t.Skip("mosquitto not installed (apt-get install mosquitto mosquitto-clients; .ci/run installs it)")
	return ""
}

// startBrokers starts n mosquitto brokers, each with a generated config
// in t.TempDir(), and waits until each answers an MQTT CONNECT. They are
// killed when the test ends.
func startBrokers(t testing.TB, n int) []*broker {
	t.Helper()
	bin := mosquittoPath(t)
	bs := make([]*broker, n)
	for i := range bs {
		bs[i] = startBroker(t, bin, i)
	}
	for _, b := range bs {
		ok := testkit.Until(testkit.Patience, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return mqtt.Probe(ctx, b.Addr) == nil
		})
		if !ok {
			t.Fatalf("mosquitto on %s not ready:\n%s", b.Addr, b.output())
		}
	}
	return bs
}

func startBroker(t testing.TB, bin string, i int) *broker {
	t.Helper()
	// A port the kernel just handed out and took back: free unless
	// something grabs it in between, which a loopback test machine's
	// other tests (also on ephemeral ports) make unlikely.
	addr := testkit.DeadAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n", port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &broker{Addr: addr, log: filepath.Join(dir, "mosquitto.log")}
	out, err := os.Create(b.log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close() // the child has its own copy
	b.cmd = exec.CommandContext(ctx, bin, "-c", conf)
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err := b.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("mosquitto %d: %v", i, err)
	}
	t.Cleanup(func() {
		cancel() // SIGKILL, if still running
		_ = b.cmd.Wait()
	})
	return b
}

// Kill ends the broker with SIGKILL and waits for it.
func (b *broker) Kill() {
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
}

// gateway starts an l4 listener in mqtt mode in front of the brokers.
func gateway(t testing.TB, bs []*broker, clk clock.Clock, edit func(c *l4.Config)) (*l4.Proxy, string) {
	t.Helper()
	var cfg l4.Config
	cfg.SetDefaults()
	cfg.Name, cfg.Mode, cfg.Strategy = "mqtt", l4.ModeMQTT, "consistent_hash"
	for i, b := range bs {
		cfg.Backends = append(cfg.Backends, upstream.Spec{ID: "broker" + strconv.Itoa(i), Address: b.Addr, Weight: 1})
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := l4.New(cfg, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return p, ln.Addr().String()
}

// rawConnect sends a CONNECT and returns the connection and the first
// packet the gateway answers (nil if it closed without one).
func rawConnect(t testing.TB, addr string, c mqtt.Connect) (net.Conn, []byte) {
	t.Helper()
	nc := testkit.Dial(t, addr)
	if _, err := nc.Write(mqtt.AppendConnect(nil, c)); err != nil {
		t.Fatal(err)
	}
	return nc, readPacket(t, nc)
}

// readPacket reads one small packet (a CONNACK, a DISCONNECT), or returns
// nil at EOF.
func readPacket(t testing.TB, nc net.Conn) []byte {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(testkit.Patience))
	var hdr [2]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		return nil
	}
	if hdr[1] > 127 {
		t.Fatalf("unexpectedly long packet % x", hdr)
	}
	body := make([]byte, hdr[1])
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatalf("cut packet: %v", err)
	}
	return append(hdr[:], body...)
}

// expectClosed checks that the gateway closes nc (EOF, or a reset).
func expectClosed(t testing.TB, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(testkit.Patience))
	n, err := nc.Read(make([]byte, 64))
	if err == nil || n > 0 {
		t.Fatalf("connection still open (read %d bytes, %v)", n, err)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection not closed")
	}
}
