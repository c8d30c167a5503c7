package testkit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Dial opens a TCP connection to addr for a test that writes raw bytes.
// Reads and writes fail after Patience, so a peer that never answers
// fails the test instead of hanging it; the connection is closed when the
// test ends.
func Dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(Patience))
	return c
}

// RawRoundTrip writes raw on a new connection to addr and reads one
// response to a request of method ("" is GET). It returns the status and
// body, or 0 and the error when no response could be read (the peer
// closed the connection, or answered something that is not HTTP).
func RawRoundTrip(t testing.TB, addr, raw, method string) (int, string) {
	t.Helper()
	c := Dial(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	if method == "" {
		method = http.MethodGet
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// StartLines is a TCP backend that reads request lines until a blank one
// (the end of an HTTP/1 head, or of whatever the test sends) and then
// writes reply and closes, as a scripted upstream does.
func StartLines(t testing.TB, name, reply string) *TCPBackend {
	t.Helper()
	return StartTCP(t, name, func(_ *TCPBackend, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		_, _ = io.WriteString(c, reply)
	})
}

// StartEcho is a TCP backend that answers every line it reads with
// "name:" and the line, so a test can tell which backend a connection
// reached.
func StartEcho(t testing.TB, name string) *TCPBackend {
	t.Helper()
	return StartTCP(t, name, func(_ *TCPBackend, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, name+":"+line)
		}
	})
}
