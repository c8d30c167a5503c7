package testkit

import (
	"bufio"
	"io"
	"testing"
)

func TestRawRoundTrip(t *testing.T) {
	ok := StartLines(t, "ok", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	if code, body := RawRoundTrip(t, ok.Addr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", ""); code != 200 || body != "hello" {
		t.Errorf("GET: %d %q, want 200 \"hello\"", code, body)
	}
	// A response to HEAD has no body whatever its Content-Length says.
	if code, body := RawRoundTrip(t, ok.Addr(), "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD"); code != 200 || body != "" {
		t.Errorf("HEAD: %d %q, want 200 and no body", code, body)
	}
	bad := StartLines(t, "bad", "garbage\r\n\r\n")
	if code, body := RawRoundTrip(t, bad.Addr(), "GET / HTTP/1.1\r\n\r\n", ""); code != 0 || body == "" {
		t.Errorf("not HTTP: %d %q, want 0 and the parse error", code, body)
	}
	if ok.Accepted() != 2 || bad.Accepted() != 1 {
		t.Errorf("accepted %d and %d connections, want 2 and 1", ok.Accepted(), bad.Accepted())
	}
}

func TestStartEcho(t *testing.T) {
	b := StartEcho(t, "e1")
	c := Dial(t, b.Addr())
	br := bufio.NewReader(c)
	for _, line := range []string{"one\n", "two\n"} {
		if _, err := io.WriteString(c, line); err != nil {
			t.Fatal(err)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != "e1:"+line {
			t.Fatalf("echo of %q: %q, %v", line, got, err)
		}
	}
}
