package l4

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Copying has two modes.
//
// Without an IdleTimeout each direction is a plain io.Copy between the two
// *net.TCPConn, which the runtime turns into splice(2) through a pipe: the
// bytes never enter user space. That is the fast path.
//
// With an IdleTimeout the proxy must know when each byte moved, and splice
// cannot tell it: io.Copy reports progress only when it returns, and
// returning early means a deadline, and a write deadline that fires inside
// splice loses the bytes already in the pipe. Read deadlines alone are not
// enough either: a peer that stops reading blocks a write for ever, which
// no read deadline interrupts. So in that mode each direction copies
// through a pooled buffer, stamps a shared last-activity time after every
// read and write, and keeps one lazy deadline per socket side: it is set
// to last activity + IdleTimeout and only moved when it fires, so an
// active connection pays no deadline updates on its hot path. When a
// deadline fires with no activity (in either direction) for IdleTimeout
// the connection is idle and is closed. Idle timing is thus wall-clock
// (socket deadlines live in the runtime poller, not on clock.Clock).

// errIdle ends a direction that found the connection idle.
var errIdle = errors.New("idle timeout")

// copyBufSize is the user-space copy buffer: 32 KiB like io.Copy's.
const copyBufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// halfCloser is a connection that can end its write side only (TCP FIN),
// leaving the other direction open.
type halfCloser interface{ CloseWrite() error }

// pipe moves bytes both ways between the client and the backend until both
// directions have ended. Each direction that ends cleanly (EOF) passes the
// half-close on with CloseWrite, so protocols that signal "done sending"
// that way (a client shutting its write side and reading the answer) work
// through the proxy. Any other end (reset, idle, a forced close) tears down
// both sides.
func (c *conn) pipe(up net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.oneWay(up, c.upSrc, &c.p.bytesToBackends)
	}()
	c.oneWay(c.downDst, up, &c.p.bytesToClients)
	wg.Wait()
}

func (c *conn) oneWay(dst, src net.Conn, counter *atomic.Uint64) {
	var err error
	if c.p.cfg.IdleTimeout > 0 {
		err = c.copyIdle(dst, src, counter)
	} else {
		var n int64
		n, err = io.Copy(dst, src)
		counter.Add(uint64(n))
	}
	switch {
	case err == nil: // src sent FIN: pass it on, let the other way finish
		if hc, ok := dst.(halfCloser); ok {
			hc.CloseWrite()
		} else {
			dst.Close()
		}
	case errors.Is(err, errIdle):
		if c.idleFired.CompareAndSwap(false, true) {
			c.p.idleClosed.Add(1)
		}
		c.closeBoth()
	default:
		c.closeBoth()
	}
}

// copyIdle copies src to dst through a buffer, closing on idleness (see
// the comment at the top of the file). It returns nil on EOF from src.
func (c *conn) copyIdle(dst, src net.Conn, counter *atomic.Uint64) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	dl := c.deadline()
	src.SetReadDeadline(dl)
	dst.SetWriteDeadline(dl)
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			c.touch()
			if err := c.writeAll(dst, buf[:nr], counter); err != nil {
				return err
			}
		}
		switch {
		case rerr == nil:
		case rerr == io.EOF:
			return nil
		case errors.Is(rerr, os.ErrDeadlineExceeded):
			dl, idle := c.idleCheck()
			if idle {
				return errIdle
			}
			src.SetReadDeadline(dl)
		default:
			return rerr
		}
	}
}

// writeAll writes p, treating a write deadline like a read one: progress
// elsewhere moves it on, a full IdleTimeout without any ends the
// connection.
func (c *conn) writeAll(dst net.Conn, p []byte, counter *atomic.Uint64) error {
	for len(p) > 0 {
		n, err := dst.Write(p)
		if n > 0 {
			p = p[n:]
			counter.Add(uint64(n))
			c.touch()
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		dl, idle := c.idleCheck()
		if idle {
			return errIdle
		}
		dst.SetWriteDeadline(dl)
	}
	return nil
}

// touch records activity now, as monotonic nanoseconds since the start.
func (c *conn) touch() { c.last.Store(int64(time.Since(c.start))) }

// deadline is last activity + IdleTimeout as a wall-clock time.
func (c *conn) deadline() time.Time {
	dl, _ := c.idleCheck()
	return dl
}

// idleCheck reports whether the connection has been idle for IdleTimeout
// and, if not, when it will be unless something moves.
func (c *conn) idleCheck() (time.Time, bool) {
	idleFor := time.Since(c.start) - time.Duration(c.last.Load())
	left := c.p.cfg.IdleTimeout - idleFor
	return time.Now().Add(left), left <= 0
}
