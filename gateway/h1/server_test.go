package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs h on a loopback h1 server and returns a connection to it.
func serve(t *testing.T, h http.HandlerFunc) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, MaxHeaderBytes: 64 << 10, MaxHeaders: 100}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServerPipelinedBodiesAndStreaming(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if r.URL.Path == "/big" {
			w.Write([]byte(strings.Repeat("x", 10000))) // beyond the buffer: chunked
			return
		}
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	})
	io.WriteString(c, "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"+
		"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"+
		"HEAD /c HTTP/1.1\r\nHost: h\r\n\r\n"+
		"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
	br := bufio.NewReader(c)
	for _, want := range []string{"POST /a abc", "POST /b de", "", strings.Repeat("x", 10000)} {
		method := "GET"
		if want == "" {
			method = "HEAD"
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != want {
			t.Fatalf("body %.40q (%v), want %.40q", b, err, want)
		}
		if want == strings.Repeat("x", 10000) && resp.TransferEncoding == nil {
			t.Errorf("a long body without a length is not chunked: %v", resp.Header)
		}
	}
}

func TestServerAbortClosesWithoutResponse(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("got %q, want a close", b)
	}
}

func TestServerRefusesAndCloses(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) { t.Error("handler reached") })
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 400 ") || strings.Count(string(b), "HTTP/1.1") != 1 {
		t.Fatalf("got %q, want one 400 and a close", b)
	}
}

func TestServerExpectContinue(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	io.WriteString(c, "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "ok")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Fatalf("body %q", b)
	}
}

// TestServerTimeouts: a head that stalls and a connection that idles
// are both closed (slowloris); a complete request in between is served.
func TestServerTimeouts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		MaxHeaderBytes: 4096, ReadHeaderTimeout: 50 * time.Millisecond, IdleTimeout: 50 * time.Millisecond}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	for _, tc := range []struct{ name, send string }{
		{"stalled head", "GET / HTTP/1.1\r\nHost: h\r\n"},
		{"idle after a request", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"silent", ""},
	} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, tc.send)
		c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound, not a wait
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Errorf("%s: not closed by the server: %v", tc.name, err)
		}
		if tc.name == "idle after a request" && !strings.HasPrefix(string(b), "HTTP/1.1 200 ") {
			t.Errorf("%s: got %q", tc.name, b)
		}
	}
}
