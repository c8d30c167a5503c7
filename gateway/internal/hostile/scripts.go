package hostile

import (
	"fmt"
	"strconv"
	"strings"
)

// Canned behaviours. Each is a Script; the misbehaving ones write Smuggled
// where nothing belongs, so a client that later reads it has been handed
// another exchange's bytes.

// Split answers requests whose target is trigger with bad and every other
// request with Echo.
func Split(trigger string, bad Script) Script {
	return func(c *Conn, r *Request) {
		if r.Target == trigger {
			bad(c, r)
			return
		}
		Echo(c, r)
	}
}

// Answer is a script that reads the request's body and writes raw, a
// whole (mis)response.
func Answer(raw string) Script {
	return func(c *Conn, r *Request) {
		_, _ = r.Body()
		c.Write(raw)
	}
}

// EchoBody is the body Echo answers r with: "echo " and the request target.
func EchoBody(r *Request) string { return "echo " + r.Target }

// Echo reads the request body and answers 200 with EchoBody, and with the
// connection and request numbers in X-Hostile-Conn and X-Hostile-Seq.
func Echo(c *Conn, r *Request) {
	_, _ = r.Body()
	c.Write(echoResponse(r))
}

func echoResponse(r *Request) string {
	body := EchoBody(r)
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Hostile-Conn: %d\r\nX-Hostile-Seq: %d\r\nContent-Length: %d\r\n\r\n%s",
		r.ConnID, r.Seq, len(body), body)
}

// BodyOnHEAD answers with a Content-Length and then sends that many bytes
// (Smuggled) even though the request is HEAD, which has no response body.
var BodyOnHEAD = Answer("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(Smuggled)) + "\r\n\r\n" + Smuggled)

// BodyOn204 answers 204 No Content followed by a body (Smuggled).
var BodyOn204 = Answer("HTTP/1.1 204 No Content\r\n\r\n" + Smuggled)

// BodyOn304 answers 304 Not Modified followed by a body (Smuggled).
var BodyOn304 = Answer("HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n" + Smuggled)

// ExtraAfterLength answers a two-byte body "ok" as announced by
// Content-Length, then Smuggled past its end.
var ExtraAfterLength = Answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + Smuggled)

// ExtraAfterLastChunk answers a chunked "ok", then Smuggled after the
// final chunk.
var ExtraAfterLastChunk = Answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + Smuggled)

// CloseAfter answers like Echo, then closes the connection although its
// response promised to keep it open: the connection turns to EOF while the
// proxy holds it idle.
func CloseAfter(c *Conn, r *Request) {
	Echo(c, r)
	c.Close()
}

// BareCRInHeader answers with a bare CR inside a header value, which a
// lenient parser downstream reads as a line break starting a new header.
var BareCRInHeader = Answer("HTTP/1.1 200 OK\r\nX-Note: a\rSet-Cookie: session=stolen\r\nContent-Length: 2\r\n\r\nok")

// CTLInHeader answers with a NUL byte inside a header value.
var CTLInHeader = Answer("HTTP/1.1 200 OK\r\nX-Note: a\x00b\r\nContent-Length: 2\r\n\r\nok")

// BareCRInReason answers with a bare CR inside the status line's reason
// phrase.
var BareCRInReason = Answer("HTTP/1.1 200 O\rSet-Cookie: session=stolen\r\nContent-Length: 2\r\n\r\nok")

// Switch answers 101 Switching Protocols to proto whatever was asked, then
// echoes raw bytes back until the peer closes: a tunnel that is open if
// the proxy relays the 101. Switch("h2c") is the h2c smuggling backend.
func Switch(proto string) Script {
	return func(c *Conn, r *Request) {
		c.Write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + proto + "\r\n\r\n")
		buf := make([]byte, 4096)
		for {
			n, err := c.br.Read(buf)
			if n > 0 {
				c.Write(string(buf[:n]))
			}
			if err != nil {
				break
			}
		}
		c.Close()
	}
}

// SwitchAsked answers 101 with the protocol the request asked for (its
// Upgrade header as sent), then echoes like Switch: the well-behaved case.
func SwitchAsked(c *Conn, r *Request) {
	Switch(r.Header.Get("Upgrade"))(c, r)
}

// EarlyResponse answers before reading the request body and then leaves
// the body unread, so the server parses the body as the next request and
// answers that too: a backend that desynchronises on an early answer.
func EarlyResponse(c *Conn, r *Request) {
	c.Write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
	r.LeaveBody()
}

// RespondThenReset answers in full and then resets the connection without
// reading the request body.
func RespondThenReset(c *Conn, r *Request) {
	c.Write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	r.LeaveBody()
	c.Reset()
}

// HeaderFlood answers with n small headers.
func HeaderFlood(n int) Script {
	return func(c *Conn, r *Request) {
		_, _ = r.Body()
		var b strings.Builder
		b.WriteString("HTTP/1.1 200 OK\r\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "X-Flood-%d: x\r\n", i)
		}
		b.WriteString("Content-Length: 2\r\n\r\nok")
		c.Write(b.String())
	}
}

// HugeHeader answers with one header whose value is size bytes long.
func HugeHeader(size int) Script {
	return func(c *Conn, r *Request) {
		_, _ = r.Body()
		c.Write("HTTP/1.1 200 OK\r\nX-Huge: " + strings.Repeat("a", size) + "\r\nContent-Length: 2\r\n\r\nok")
	}
}
