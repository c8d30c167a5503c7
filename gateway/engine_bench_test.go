package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// proxiedGET is the request of the engine benchmarks: a GET with 8 header
// fields (Host included).
const proxiedGET = "GET /bench/item?id=42 HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench/1.0\r\n" +
	"Accept: application/json\r\nAccept-Encoding: identity\r\nAccept-Language: en\r\n" +
	"Cache-Control: no-cache\r\nX-Request-Id: 0123456789abcdef\r\nCookie: session=abc\r\n\r\n"

// startRawBackend256 answers every request head with a 256-byte body,
// without allocating, so the benchmark counts the gateway's allocations.
func startRawBackend256(t testing.TB) *testkit.TCPBackend {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 256\r\n\r\n" + strings.Repeat("b", 256))
	return testkit.StartTCP(t, "raw256", func(_ *testkit.TCPBackend, c net.Conn) {
		buf := make([]byte, 8<<10)
		n := 0
		for {
			m, err := c.Read(buf[n:])
			if err != nil {
				return
			}
			n += m
			for {
				i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				n = copy(buf, buf[i+4:n])
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}
	})
}

// readResponse reads one response with a Content-Length from br into buf
// and returns its status, without allocating.
func readResponse(br *bufio.Reader) (int, error) {
	status, cl := 0, -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		switch {
		case status == 0:
			if len(line) < 12 {
				return 0, fmt.Errorf("bad status line %q", line)
			}
			status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
		case len(line) <= 2:
			if cl < 0 {
				return 0, fmt.Errorf("no Content-Length")
			}
			_, err := br.Discard(cl)
			return status, err
		case len(line) > 16 && bytes.EqualFold(line[:16], []byte("Content-Length: ")):
			cl = 0
			for _, c := range bytes.TrimSpace(line[16:]) {
				cl = cl*10 + int(c-'0')
			}
		}
	}
}

// engineGateway starts a gateway with the given engine in front of the
// backend at addr, its pool configured with extra, and returns its address.
func engineGateway(t testing.TB, engine, extra, addr string) string {
	cfg, err := config.Parse("bench.yaml", []byte(poolConfigAddrs(extra, addr)+"server:\n  engine: "+engine+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, gw := startGateway(t, cfg, Options{})
	return gw.Listener.Addr().String()
}

// proxiedClient connects to the gateway at addr and returns a function
// that makes one proxiedGET over that keep-alive connection without
// allocating; the pools and caches on the way are warm when it returns.
func proxiedClient(tb testing.TB, addr string) (exchange func()) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	br := bufio.NewReaderSize(c, 8<<10)
	req := []byte(proxiedGET)
	exchange = func() {
		if _, err := c.Write(req); err != nil {
			tb.Fatal(err)
		}
		if st, err := readResponse(br); err != nil || st != 200 {
			tb.Fatalf("status %d, %v", st, err)
		}
	}
	for range 100 {
		exchange()
	}
	return exchange
}

// BenchmarkH1ProxyGET is one proxied GET (8 header fields, 256-byte
// response body) through the real gateway handler and a loopback backend,
// over one keep-alive connection, per engine. The client and backend do
// not allocate: allocs/op is the gateway's.
func BenchmarkH1ProxyGET(b *testing.B) {
	be := startRawBackend256(b)
	for _, engine := range []string{config.EngineH1, config.EngineNetHTTP} {
		b.Run(strings.ReplaceAll(engine, "/", ""), func(b *testing.B) {
			exchange := proxiedClient(b, engineGateway(b, engine, "", be.Addr()))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				exchange()
			}
		})
	}
}

// idleClientEnv makes the test binary a client that holds idle
// connections (TestIdleClientHelper): "addr n".
const idleClientEnv = "DRAWBRIDGE_IDLE_CLIENT"

// TestIdleClientHelper, run as a child process, opens n connections to
// addr, completes one request on each, says "ready" and holds them idle
// until its stdin closes. A child has its own descriptor limit: the
// gateway's 10,000 connections and the client's do not share one.
func TestIdleClientHelper(t *testing.T) {
	spec := os.Getenv(idleClientEnv)
	if spec == "" {
		t.Skip("runs as the child of TestIdleConnMemory")
	}
	addr, ns, _ := strings.Cut(spec, " ")
	n, _ := strconv.Atoi(ns)
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, proxiedGET); err != nil {
			t.Fatal(err)
		}
		if st, err := readResponse(bufio.NewReader(c)); err != nil || st != 200 {
			t.Fatalf("status %d, %v", st, err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// heapAndStacks is the memory the runtime holds live, after enough
// collections for idle goroutines' stacks to shrink back.
func heapAndStacks() (heap, stacks uint64) {
	var ms goruntime.MemStats
	for range 8 {
		goruntime.GC()
	}
	goruntime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

// idleConnMemory is the gateway process's memory per idle keep-alive
// client connection (after one request each), with n connections held by
// a child process.
func idleConnMemory(t testing.TB, engine string, n int) float64 {
	be := startRawBackend256(t)
	addr := engineGateway(t, engine, "", be.Addr())
	h0, s0 := heapAndStacks()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientHelper$", "-test.v")
	cmd.Env = append(os.Environ(), idleClientEnv+"="+addr+" "+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatal("idle client did not get ready")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	h1, s1 := heapAndStacks()
	heap, stacks := (float64(h1)-float64(h0))/float64(n), (float64(s1)-float64(s0))/float64(n)
	t.Logf("%s: per idle connection: heap %.0f B, stacks %.0f B", engine, heap, stacks)
	return heap + stacks
}

// TestIdleConnMemory: an idle keep-alive connection costs the h1 engine
// at most 4 KiB (10,000 connections; IDLE_CONNS overrides), and reports
// net/http's cost beside it.
func TestIdleConnMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	if testEngine != "" {
		t.Skip("compares the engines; DRAWBRIDGE_TEST_ENGINE serves both alike")
	}
	n := 10000
	if s := os.Getenv("IDLE_CONNS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	h1 := idleConnMemory(t, config.EngineH1, n)
	std := idleConnMemory(t, config.EngineNetHTTP, n)
	t.Logf("memory per idle connection (%d connections): h1 %.0f B (%.2f KiB), net/http %.0f B (%.2f KiB)", n, h1, h1/1024, std, std/1024)
	if h1 >= std/2 {
		t.Errorf("h1 holds %.0f B per idle connection, net/http %.0f B; want h1 below half", h1, std)
	}
	if h1 > 4096 {
		t.Errorf("h1 holds %.0f B per idle connection, want at most 4096", h1)
	}
}
