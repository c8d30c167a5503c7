package mqtt

import (
	"bufio"
	"errors"
	"io"
	"net"
	"time"
)

// uplink is the client connection as the client-to-broker copy reads it.
// Each packet's fixed header is read and checked before any of the packet
// is passed on; the body then streams through without being buffered (so
// memory does not grow with packet sizes). A PUBLISH waits for the
// publish rate before its header is passed on, which stops the reading:
// TCP flow control then holds the client back.
//
// State survives a read error, so a read deadline (the L4 idle timeout)
// that fires inside a header resumes where it stopped.
type uplink struct {
	net.Conn
	r       *bufio.Reader // also holds what the client sent after CONNECT
	version byte
	max     int
	wait    func() error         // the publish rate
	onError func(code byte) bool // tells a v5 client why it is cut off; true if sent

	hdr  [5]byte // fixed header being read
	hn   int
	out  []byte // header bytes not yet returned
	left int    // body bytes of the current packet not yet returned
	err  error  // sticky protocol error
}

func (u *uplink) Read(p []byte) (int, error) {
	for {
		switch {
		case u.err != nil:
			return 0, u.err
		case len(u.out) > 0:
			n := copy(p, u.out)
			u.out = u.out[n:]
			return n, nil
		case u.left > 0:
			if len(p) > u.left {
				p = p[:u.left]
			}
			n, err := u.r.Read(p)
			u.left -= n
			return n, noEOF(err)
		}
		if err := u.header(); err != nil {
			return 0, err
		}
	}
}

// header reads the next fixed header; io.EOF means the client ended
// cleanly between packets.
func (u *uplink) header() error {
	for {
		b, err := u.r.ReadByte()
		if err != nil {
			if u.hn > 0 {
				err = noEOF(err)
			}
			return err
		}
		u.hdr[u.hn] = b
		u.hn++
		if u.hn == 1 {
			if err := checkFirst(b, u.version); err != nil {
				return u.fail(err)
			}
			continue
		}
		if b&0x80 != 0 {
			if u.hn == len(u.hdr) {
				return u.fail(ErrMalformed)
			}
			continue
		}
		n, _, _ := decodeVarint(u.hdr[1:u.hn])
		if u.hn+n > u.max {
			return u.fail(ErrTooLarge)
		}
		if u.hdr[0]>>4 == typePublish && u.wait != nil {
			if err := u.wait(); err != nil {
				u.err = err
				return err
			}
		}
		u.out, u.left, u.hn = u.hdr[:u.hn], n, 0
		return nil
	}
}

// fail records a protocol error and, for a v5 client, sends the
// DISCONNECT reason the spec gives it (4.13.2).
func (u *uplink) fail(err error) error {
	u.err = err
	if u.version == Version5 && u.onError != nil {
		code := byte(V5Malformed)
		switch {
		case errors.Is(err, ErrTooLarge):
			code = V5PacketTooLarge
		case errors.Is(err, ErrProtocol):
			code = V5ProtocolError
		}
		if u.onError(code) {
			// Let the client read it: closing over unread input would
			// reset the connection (see Gate.linger).
			u.Conn.SetReadDeadline(time.Now().Add(lingerTimeout))
			io.CopyN(io.Discard, u.r, 1<<20)
		}
	}
	return err
}

// downlink is the client connection as the broker-to-client copy writes
// it. It follows the packet boundaries of what it writes, so that a
// DISCONNECT from the gateway goes between two broker packets or not at
// all.
type downlink struct {
	net.Conn
	// sem (capacity 1) serialises writes; a channel rather than a mutex
	// so that disconnect can give up on a write blocked on a slow client.
	sem    chan struct{}
	hn     int     // header bytes seen of the current packet (0: between packets)
	vb     [4]byte // its remaining-length bytes
	left   int     // body bytes of the current packet still to come
	broken bool    // the broker's framing made no sense: never interject
	closed bool
}

func newDownlink(nc net.Conn) *downlink { return &downlink{Conn: nc, sem: make(chan struct{}, 1)} }

func (d *downlink) Write(p []byte) (int, error) {
	d.sem <- struct{}{}
	defer func() { <-d.sem }()
	if d.closed {
		return 0, net.ErrClosed
	}
	n, err := d.Conn.Write(p)
	d.advance(p[:n])
	return n, err
}

// CloseWrite passes a broker's half-close on, as the plain TCP relay does.
func (d *downlink) CloseWrite() error {
	if hc, ok := d.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return d.Conn.Close()
}

// advance moves the framing over bytes written to the client.
func (d *downlink) advance(p []byte) {
	for len(p) > 0 && !d.broken {
		if d.left > 0 {
			k := min(len(p), d.left)
			d.left -= k
			p = p[k:]
			continue
		}
		b := p[0]
		p = p[1:]
		if d.hn == 0 {
			d.hn = 1
			continue
		}
		d.vb[d.hn-1] = b
		d.hn++
		if b&0x80 != 0 {
			if d.hn-1 == len(d.vb) {
				d.broken = true
			}
			continue
		}
		d.left, _, _ = decodeVarint(d.vb[:d.hn-1])
		d.hn = 0
	}
}

// disconnect sends a v5 DISCONNECT with code if the client is between two
// packets, then refuses further writes. A write under way is waited for
// a moment (it may be the end of a packet the client already has), but
// one blocked on a slow client must not hold the closing connection. It
// reports whether the DISCONNECT went out.
func (d *downlink) disconnect(code byte) bool {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case d.sem <- struct{}{}:
	case <-t.C:
		return false
	}
	defer func() { <-d.sem }()
	if d.closed || d.hn != 0 || d.left != 0 || d.broken {
		d.closed = true
		return false
	}
	d.closed = true
	d.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := d.Conn.Write(Disconnect(code)); err != nil {
		return false
	}
	d.CloseWrite()
	return true
}

var _ io.Reader = (*uplink)(nil)
