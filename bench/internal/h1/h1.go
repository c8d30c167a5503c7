// Package h1 is the minimal HTTP/1.1 client the bench load programs share:
// one GET at a time on one connection, response read and discarded. It is
// much cheaper per request than net/http's client, so on a shared 2-core
// machine the load generator takes less CPU from the proxy under test.
package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Timeout bounds one exchange (write + whole response).
var Timeout = 30 * time.Second

// Conn is one client connection that sends GETs for one path.
type Conn struct {
	addr   string
	local  *net.TCPAddr // nil: the kernel picks the source address
	req    []byte
	close  bool // request asks for Connection: close
	c      net.Conn
	br     *bufio.Reader
	Status int // status of the last response
}

// New prepares a connection to addr (host:port) for GET path; with close,
// every request carries "Connection: close" and gets a new connection.
// local, if not empty, is the source IP (e.g. 127.0.0.2) to dial from.
func New(addr, path string, close bool, local string) *Conn {
	h := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: drawbridge-bench\r\n"
	if close {
		h += "Connection: close\r\n"
	}
	c := &Conn{addr: addr, req: []byte(h + "\r\n"), close: close}
	if local != "" {
		c.local = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	return c
}

// Get sends one request and reads the whole response, reconnecting first if
// the previous exchange left no usable connection.
func (c *Conn) Get() error {
	if c.c == nil {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: c.local}
		nc, err := d.Dial("tcp", c.addr)
		if err != nil {
			return err
		}
		c.c = nc
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, 32<<10)
		} else {
			c.br.Reset(nc)
		}
	}
	// A proxy that never answers must fail the request, not hang the run.
	_ = c.c.SetDeadline(time.Now().Add(Timeout))
	if _, err := c.c.Write(c.req); err != nil {
		c.Close()
		return err
	}
	keep, err := c.read()
	if err != nil || !keep || c.close {
		c.Close()
	}
	return err
}

// Close drops the connection (the next Get dials again).
func (c *Conn) Close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// read consumes one response; keep says whether the connection may be reused.
func (c *Conn) read() (keep bool, err error) {
	line, err := c.line()
	if err != nil {
		return false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !strings.HasPrefix(line, "HTTP/1.") {
		return false, fmt.Errorf("bad status line %q", line)
	}
	c.Status, err = strconv.Atoi(line[9:12])
	if err != nil {
		return false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keep := int64(-1), false, true
	for {
		h, err := c.line()
		if err != nil {
			return false, err
		}
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			if length, err = strconv.ParseInt(v, 10, 64); err != nil {
				return false, fmt.Errorf("bad content-length %q", v)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(v, "chunked")
		case "connection":
			keep = !strings.EqualFold(v, "close")
		}
	}
	switch {
	case chunked:
		return keep, c.chunks()
	case length >= 0:
		_, err = c.br.Discard(int(length))
		return keep, err
	case c.Status == 204 || c.Status == 304:
		return keep, nil
	default: // body until EOF
		_, err = io.Copy(io.Discard, c.br)
		return false, err
	}
}

func (c *Conn) chunks() error {
	for {
		l, err := c.line()
		if err != nil {
			return err
		}
		l, _, _ = strings.Cut(l, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(l), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", l)
		}
		if n == 0 { // trailers, then the blank line
			for {
				if t, err := c.line(); err != nil || t == "" {
					return err
				}
			}
		}
		if _, err := c.br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

func (c *Conn) line() (string, error) {
	b, err := c.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errors.New("header line too long")
		}
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
