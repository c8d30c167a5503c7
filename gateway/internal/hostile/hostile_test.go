package hostile

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// The backend keeps a connection open across requests and numbers them,
// and Split misbehaves only on its trigger.
func TestEchoAndSplit(t *testing.T) {
	srv := Start(t, Split("/bad", ExtraAfterLength))
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	for i, want := range []string{"echo /a", "echo /b?x=1"} {
		target := []string{"/a", "/b?x=1"}[i]
		if _, err := io.WriteString(nc, "POST "+target+" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want || resp.Header.Get("X-Hostile-Conn") != "1" || resp.Header.Get("X-Hostile-Seq") != string(rune('1'+i)) {
			t.Fatalf("request %d: %q %v", i+1, body, resp.Header)
		}
	}
	if _, err := io.WriteString(nc, "GET /bad HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	srv.WaitHandled(t, 3)
	want := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + Smuggled
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("misbehaviour: %q, %v", got, err)
	}
	if srv.Accepted() != 1 || srv.Conn(1) == nil || srv.Conn(2) != nil {
		t.Fatalf("accepted %d", srv.Accepted())
	}
}
