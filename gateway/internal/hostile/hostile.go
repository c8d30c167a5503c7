// Package hostile is a test backend that misbehaves on demand. It is a real
// HTTP/1.1 server on a loopback TCP port whose answers are raw bytes chosen
// by the test, so a test can make it do what no well-behaved server does:
// send a body on HEAD, 204 or 304, bytes past Content-Length or after the
// last chunk, bytes while the connection is idle, bare CR in header values,
// a 101 nobody asked for, an answer before the request body, a reset right
// after the answer, or more headers than any proxy should relay.
//
// A test passes a Script, called once per request:
//
//	srv := hostile.Start(t, hostile.Split("/trigger", hostile.BodyOnHEAD))
//
// Requests to /trigger then get the misbehaviour and every other request
// gets Echo, an ordinary response that names its request, so a test can
// tell its own answer from a leftover (Smuggled).
package hostile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Smuggled is a complete response that the misbehaving scripts send where
// no response belongs. A client that receives it got someone else's bytes.
const Smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Hostile: smuggled\r\n\r\nSMUGGLED"

// Script answers one request by writing raw bytes to c. After it returns,
// the server drains the request body (unless the script read it or said
// otherwise) and reads the next request, unless c was closed.
type Script func(c *Conn, r *Request)

// Request is one request as the backend parsed it.
type Request struct {
	Method, Target, Proto string
	Header                http.Header
	Head                  []byte // the head as received, blank line included
	ConnID                int    // 1-based: which accepted connection it came on
	Seq                   int    // 1-based: its place on that connection

	c        *Conn
	bodyDone bool
}

// Server is a running hostile backend.
type Server struct {
	ln     net.Listener
	script Script

	mu      sync.Mutex
	conns   []*Conn
	handled int
	changed chan struct{} // closed and replaced whenever handled grows
	wg      sync.WaitGroup
}

// Start listens on a loopback port and serves script until the test ends.
func Start(t testing.TB, script Script) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hostile: listen: %v", err)
	}
	s := &Server{ln: ln, script: script, changed: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Addr is the backend's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Accepted is how many connections the backend has accepted so far.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Conn returns accepted connection id (1-based, as Request.ConnID), so a
// test can write to it later, e.g. while the proxy holds it idle.
func (s *Server) Conn(id int) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > len(s.conns) {
		return nil
	}
	return s.conns[id-1]
}

// WaitHandled waits until scripts have returned for n requests in all, so
// that whatever they wrote has been written. It fails the test after a
// generous deadline.
func (s *Server) WaitHandled(t testing.TB, n int) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, ch := s.handled, s.changed
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("hostile: %d requests handled, waited for %d", got, n)
		}
	}
}

// Close stops the backend and closes every connection it accepted.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.nc.Close()
	}
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		c := &Conn{nc: nc.(*net.TCPConn), br: bufio.NewReaderSize(nc, 64<<10), id: len(s.conns) + 1}
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *Server) serve(c *Conn) {
	defer s.wg.Done()
	defer c.Close()
	for seq := 1; ; seq++ {
		r, err := readRequest(c.br)
		if err != nil {
			return
		}
		r.c, r.ConnID, r.Seq = c, c.id, seq
		s.script(c, r)
		s.mu.Lock()
		s.handled++
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		if c.isClosed() {
			return
		}
		if !r.bodyDone {
			if _, err := r.Body(); err != nil {
				return
			}
		}
	}
}

// Conn is the backend's side of one connection.
type Conn struct {
	nc *net.TCPConn
	br *bufio.Reader
	id int

	mu     sync.Mutex // writes may come from the script and from the test
	closed bool
}

// ID is the connection's 1-based number on its server.
func (c *Conn) ID() int { return c.id }

// Write sends raw bytes. Errors are ignored: the peer hanging up is one of
// the outcomes the tests provoke.
func (c *Conn) Write(raw string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.nc, raw)
}

// Close ends the connection with a FIN.
func (c *Conn) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	_ = c.nc.Close()
}

// Reset ends the connection with a RST (SO_LINGER 0), dropping whatever the
// peer sent that was not read.
func (c *Conn) Reset() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	_ = c.nc.SetLinger(0)
	_ = c.nc.Close()
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Body reads the request body framed by Content-Length or chunked encoding
// (trailers discarded). Later calls return nil.
func (r *Request) Body() ([]byte, error) {
	if r.bodyDone {
		return nil, nil
	}
	r.bodyDone = true
	br := r.c.br
	if strings.EqualFold(r.Header.Get("Transfer-Encoding"), "chunked") {
		var body []byte
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return body, err
			}
			sz := strings.TrimSpace(strings.SplitN(line, ";", 2)[0])
			n, err := strconv.ParseInt(sz, 16, 64)
			if err != nil || n < 0 {
				return body, fmt.Errorf("hostile: bad chunk size %q", sz)
			}
			if n == 0 {
				tp := textproto.NewReader(br)
				_, err := tp.ReadMIMEHeader()
				if errors.Is(err, io.EOF) {
					return body, io.ErrUnexpectedEOF
				}
				return body, nil
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(br, chunk); err != nil {
				return body, err
			}
			body = append(body, chunk[:n]...)
		}
	}
	n, _ := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
	if n <= 0 {
		return nil, nil
	}
	body := make([]byte, n)
	_, err := io.ReadFull(br, body)
	return body, err
}

// LeaveBody makes the server parse the request's body, unread, as the next
// request: the classic desync of a backend that answers early.
func (r *Request) LeaveBody() { r.bodyDone = true }

func readRequest(br *bufio.Reader) (*Request, error) {
	var head bytes.Buffer
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	head.WriteString(line)
	parts := strings.SplitN(strings.TrimRight(line, "\r\n"), " ", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("hostile: bad request line %q", line)
	}
	r := &Request{Method: parts[0], Target: parts[1], Proto: parts[2], Header: http.Header{}}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		head.WriteString(line)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("hostile: bad header line %q", line)
		}
		r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	r.Head = head.Bytes()
	return r, nil
}
