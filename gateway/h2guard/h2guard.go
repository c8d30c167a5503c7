// Package h2guard sits between a client connection and Go's HTTP/2 server
// and closes the gaps where that server departs from RFC 9113:
//
//   - a header block carrying connection-specific fields (Connection,
//     Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade) or a TE
//     other than "trailers" is malformed (§8.2.2) and must end in a stream
//     error, where Go answers it with a 400 response;
//   - a SETTINGS frame may repeat a parameter, applied in order (§6.5.3),
//     where Go treats any repetition as a connection error;
//   - a header block is held open by a client for as long as it likes,
//     where HTTP/1 gets the server's read-header timeout;
//   - on a listener shared by HTTP/1 and h2c, a first line that is neither
//     an HTTP/1 request line nor the HTTP/2 preface gets the connection
//     closed, not an HTTP/1 400 the client cannot read (§3.4).
//
// The guard reads the client's frames as the server reads them, through a
// net.Conn wrapper. DATA and the other frames pass untouched, with no copy
// or allocation; HEADERS, CONTINUATION and SETTINGS frames are held whole
// (they are at most MaxFrameSize), inspected, and passed on, rewritten
// where needed so that the server itself produces the right answer: a
// repeated setting is renamed to an unknown one (which the server ignores)
// and a malformed header block gets one more field, a name the server
// refuses, so the server resets the stream with PROTOCOL_ERROR. The
// guard never writes to the client, so it never interleaves with the
// server's frames.
package h2guard

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// MaxFrameSize is the largest frame the guard inspects; the server must
// advertise and enforce it (SETTINGS_MAX_FRAME_SIZE) so that a larger
// frame is a connection error there. It is the protocol's initial value.
const MaxFrameSize = 16 << 10

// headerTableSize is the HPACK dynamic table size the server's decoder
// allows (Go's default, which the gateway does not change). The guard's
// decoder must follow the same table.
const headerTableSize = 4096

// maxSettingsLen bounds the SETTINGS frames the guard rewrites; Go refuses
// more than 100 parameters anyway.
const maxSettingsLen = 100 * 6

const preface = http2.ClientPreface

// maxSniff bounds the first line of a cleartext connection that the guard
// waits for before deciding.
const maxSniff = 4 << 10

// Config is the guard's view of the server settings.
type Config struct {
	// ReadHeaderTimeout bounds how long a client may take to send its
	// first complete header block after connecting, and any header block
	// after its first frame. Zero means no bound.
	ReadHeaderTimeout time.Duration
	// MaxHeaderBytes bounds one header field the guard decodes; a longer
	// one is the server's to refuse, and the guard stops inspecting.
	MaxHeaderBytes int
}

type mode uint8

const (
	modeSniff  mode = iota // cleartext: HTTP/1 or h2c, not known yet
	modeFrames             // HTTP/2: preface, then frames
	modeOff                // HTTP/1, or the guard lost track: bytes pass untouched
	modeDead               // refused: the connection reads as closed
)

const frameHeaderLen = 9

// Conn is a client connection seen through the guard.
type Conn struct {
	net.Conn
	cfg  Config
	born time.Time

	mode        mode
	prefaceLeft int    // preface bytes still to come in modeFrames
	pass        uint32 // bytes of the current frame that pass untouched
	need        int    // bytes in must hold before scanning resumes
	held        int    // length of the frame at the front of buf to inspect, 0 if none

	buf        []byte // bytes read from the client and not yet handed on: buf[rpos:wpos]
	rpos, wpos int
	out        []byte // a held frame ready for the server
	tail       []byte // a synthetic CONTINUATION to follow out
	tailBuf    [frameHeaderLen + len(refusedField)]byte
	rerr       error // read error that came with data; reported after it

	dec         *hpack.Decoder
	hpackLost   bool   // the decoder gave up: frames are still followed, fields no longer checked
	blockStream uint32 // stream of the open header block, 0 if none
	blockBad    bool   // the open header block is malformed
	teSeen      int

	mu                 sync.Mutex // deadlines: set by the server and by the reader
	serverDL, headerDL time.Time
}

// Server wraps a connection that speaks HTTP/2 from its first byte (TLS
// with ALPN h2). A *tls.Conn keeps its ConnectionState through the guard.
func Server(c net.Conn, cfg Config) net.Conn {
	g := newConn(c, cfg)
	g.startFrames()
	if cs, ok := c.(connectionStater); ok {
		return tlsConn{g, cs}
	}
	return g
}

// Sniff wraps a cleartext connection that may speak HTTP/1 or HTTP/2 with
// prior knowledge (h2c); the guard follows only the latter.
func Sniff(c net.Conn, cfg Config) *Conn {
	return newConn(c, cfg)
}

func newConn(c net.Conn, cfg Config) *Conn {
	return &Conn{Conn: c, cfg: cfg, born: time.Now()}
}

// Listener wraps accepted connections with Sniff.
type Listener struct {
	net.Listener
	Config Config
}

func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Sniff(c, l.Config), nil
}

type connectionStater interface{ ConnectionState() tls.ConnectionState }

func (c *Conn) startFrames() {
	c.mode, c.prefaceLeft = modeFrames, len(preface)
	if d := c.cfg.ReadHeaderTimeout; d > 0 {
		c.setHeaderDeadline(c.born.Add(d))
	}
}

// Read hands the server the client's bytes, holding and inspecting the
// frames the guard cares about.
func (c *Conn) Read(p []byte) (int, error) {
	if c.mode == modeOff && c.rpos == c.wpos && len(c.out) == 0 && len(c.tail) == 0 && c.rerr == nil {
		return c.Conn.Read(p)
	}
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		if len(c.tail) > 0 {
			n := copy(p, c.tail)
			c.tail = c.tail[n:]
			return n, nil
		}
		if c.mode == modeDead {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if c.need > c.wpos-c.rpos {
			if err := c.fill(c.need); err != nil {
				return 0, err
			}
		}
		c.need = 0
		if c.held > 0 {
			c.release()
			continue
		}
		if c.rpos < c.wpos {
			in := c.buf[c.rpos:c.wpos]
			m := c.scan(in, min(len(p), len(in)))
			copy(p, in[:m])
			c.rpos += m
			if m > 0 {
				return m, nil
			}
			continue
		}
		if c.rerr != nil {
			return 0, c.rerr
		}
		n, err := c.Conn.Read(p)
		if n == 0 {
			return 0, err
		}
		c.rerr = err
		m := c.scan(p[:n], n)
		if m < n {
			c.rpos, c.wpos = 0, 0
			c.grow(n - m)
			c.wpos = copy(c.buf, p[m:n])
		}
		if m > 0 {
			return m, nil
		}
	}
}

// grow makes buf hold at least n bytes from rpos, moving them to the front.
func (c *Conn) grow(n int) {
	have := c.wpos - c.rpos
	if cap(c.buf) < n {
		// Doubling stops at a whole frame: that is all the guard holds.
		nb := make([]byte, max(n, min(2*cap(c.buf), frameHeaderLen+MaxFrameSize), 512))
		copy(nb, c.buf[c.rpos:c.wpos])
		c.buf = nb
	} else if c.rpos > 0 {
		copy(c.buf, c.buf[c.rpos:c.wpos])
	} else {
		c.buf = c.buf[:cap(c.buf)]
		return
	}
	c.buf = c.buf[:cap(c.buf)]
	c.rpos, c.wpos = 0, have
}

// fill reads until buf holds n bytes from rpos, and no further once the
// connection speaks HTTP/2: bytes the guard does not need stay in the
// socket for the server to read directly. While sniffing, where what
// comes next is a line of unknown length, it takes what is there.
func (c *Conn) fill(n int) error {
	if c.rerr != nil {
		return c.rerr
	}
	c.grow(n)
	hi := c.rpos + n
	if c.mode == modeSniff {
		hi = len(c.buf)
	}
	k, err := io.ReadAtLeast(c.Conn, c.buf[c.wpos:hi], c.rpos+n-c.wpos)
	c.wpos += k
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return err
}

// scan follows the bytes b and returns how many of them, at most limit,
// may go to the server now. b may extend past limit: the bytes beyond are
// only looked at. When scan stops before limit, it has set need (and held,
// for a frame to inspect) for the bytes from the stop onwards.
func (c *Conn) scan(b []byte, limit int) int {
	pos := 0
	for pos < limit {
		switch c.mode {
		case modeOff:
			return limit
		case modeDead:
			return pos
		case modeSniff:
			if !c.sniff(b) {
				return 0
			}
			continue
		}
		if c.prefaceLeft > 0 {
			k := min(c.prefaceLeft, limit-pos)
			off := len(preface) - c.prefaceLeft
			if string(b[pos:pos+k]) != preface[off:off+k] {
				c.mode = modeOff // the server refuses it
				return limit
			}
			c.prefaceLeft -= k
			pos += k
			continue
		}
		if c.pass > 0 {
			k := int(min(c.pass, uint32(limit-pos)))
			c.pass -= uint32(k)
			pos += k
			continue
		}
		if len(b)-pos < frameHeaderLen {
			c.need = frameHeaderLen
			return pos
		}
		fh := parseHeader(b[pos:])
		if c.inspects(fh) {
			c.held = frameHeaderLen + int(fh.length)
			c.need = c.held
			return pos
		}
		c.passing(fh)
		c.pass = frameHeaderLen + fh.length
	}
	return pos
}

// sniff decides what a cleartext connection speaks from its first bytes;
// false means it needs more of them in buf first.
func (c *Conn) sniff(b []byte) bool {
	k := min(len(b), len(preface))
	if string(b[:k]) == preface[:k] {
		if k < len(preface) {
			c.need = len(preface)
			return false
		}
		c.startFrames()
		return true
	}
	// An HTTP/1 request line ends in an HTTP version; a first line that
	// does not is not HTTP at all. A line too long to judge is left to
	// the server.
	line, _, ok := bytes.Cut(b, []byte{'\n'})
	if !ok && len(b) < maxSniff {
		c.need = len(b) + 1
		return false
	}
	c.mode = modeOff
	if ok && len(line) > 0 && line[0] != '\r' && !endsInVersion(line) {
		c.mode = modeDead
	}
	return true
}

func endsInVersion(line []byte) bool {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	sp := bytes.LastIndexByte(line, ' ')
	v := line[sp+1:]
	return sp > 0 && len(v) == 8 && string(v[:5]) == "HTTP/" &&
		isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

type frameHeader struct {
	length uint32
	typ    http2.FrameType
	flags  http2.Flags
	stream uint32
}

func parseHeader(b []byte) frameHeader {
	return frameHeader{
		length: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:    http2.FrameType(b[3]),
		flags:  http2.Flags(b[4]),
		stream: binary.BigEndian.Uint32(b[5:9]) & (1<<31 - 1),
	}
}

// inspects reports whether the frame is held and inspected. Anything the
// server refuses on sight (oversized, out of order) passes, and the guard
// stops following the connection.
func (c *Conn) inspects(fh frameHeader) bool {
	switch fh.typ {
	case http2.FrameHeaders, http2.FrameContinuation:
		return fh.length <= MaxFrameSize
	case http2.FrameSettings:
		return fh.stream == 0 && !fh.flags.Has(http2.FlagSettingsAck) &&
			fh.length%6 == 0 && fh.length <= maxSettingsLen
	}
	return false
}

// passing notes a frame that passes untouched.
func (c *Conn) passing(fh frameHeader) {
	switch {
	case c.blockStream != 0:
		c.mode = modeOff // only CONTINUATION may follow an open block
	case fh.typ == http2.FrameHeaders || fh.typ == http2.FrameContinuation:
		c.mode = modeOff
	}
}

// release inspects the held frame at the front of buf and queues it,
// rewritten where needed, for the server.
func (c *Conn) release() {
	f := c.buf[c.rpos : c.rpos+c.held]
	c.rpos += c.held
	c.held = 0
	c.out = f
	fh := parseHeader(f)
	payload := f[frameHeaderLen:]
	switch fh.typ {
	case http2.FrameSettings:
		dedupeSettings(payload)
	case http2.FrameHeaders:
		if c.blockStream != 0 || fh.stream == 0 {
			c.mode = modeOff
			return
		}
		frag, ok := headersFragment(fh, payload)
		if !ok {
			c.mode = modeOff
			return
		}
		c.blockStream, c.blockBad, c.teSeen = fh.stream, false, 0
		if !fh.flags.Has(http2.FlagHeadersEndHeaders) {
			if d := c.cfg.ReadHeaderTimeout; d > 0 {
				c.setHeaderDeadline(time.Now().Add(d))
			}
		}
		c.decode(f, frag, fh.flags.Has(http2.FlagHeadersEndHeaders))
	case http2.FrameContinuation:
		if c.blockStream == 0 || fh.stream != c.blockStream {
			c.mode = modeOff
			return
		}
		c.decode(f, payload, fh.flags.Has(http2.FlagContinuationEndHeaders))
	}
}

// headersFragment is the header block fragment of a HEADERS payload.
func headersFragment(fh frameHeader, p []byte) ([]byte, bool) {
	pad := 0
	if fh.flags.Has(http2.FlagHeadersPadded) {
		if len(p) < 1 {
			return nil, false
		}
		pad, p = int(p[0]), p[1:]
	}
	if fh.flags.Has(http2.FlagHeadersPriority) {
		if len(p) < 5 {
			return nil, false
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, false
	}
	return p[:len(p)-pad], true
}

// decode feeds a fragment of the open block to the guard's HPACK decoder
// and, at the block's end, refuses a malformed block through the server.
func (c *Conn) decode(frame, frag []byte, end bool) {
	if c.dec == nil {
		c.dec = hpack.NewDecoder(headerTableSize, c.field)
		if c.cfg.MaxHeaderBytes > 0 {
			c.dec.SetMaxStringLength(c.cfg.MaxHeaderBytes)
		}
	}
	if !c.hpackLost {
		// An error is a block the server refuses too (COMPRESSION_ERROR)
		// or a field longer than the guard decodes; from then on the two
		// decoders' tables may differ, so fields are no longer checked.
		_, err := c.dec.Write(frag)
		if err == nil && end {
			err = c.dec.Close()
		}
		c.hpackLost = err != nil
	}
	if !end {
		return
	}
	if c.blockBad && !c.hpackLost {
		c.refuse(frame)
	}
	c.blockStream = 0
	if !c.headerDeadline().IsZero() {
		c.setHeaderDeadline(time.Time{})
	}
}

// field checks one decoded header field (RFC 9113 §8.2.2).
func (c *Conn) field(f hpack.HeaderField) {
	switch f.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		c.blockBad = true
	case "te":
		c.teSeen++
		if f.Value != "trailers" || c.teSeen > 1 {
			c.blockBad = true
		}
	}
}

// refusedField is an HPACK literal without indexing (so the dynamic table
// is untouched) whose name, having upper case, the server refuses: it
// then resets the stream with PROTOCOL_ERROR and never runs the handler.
const refusedField = "\x00\x12Drawbridge-Refused\x00"

// refuse ends the block of frame (its last frame) with one more
// CONTINUATION that carries refusedField.
func (c *Conn) refuse(frame []byte) {
	frame[4] &^= byte(http2.FlagHeadersEndHeaders) // same bit in CONTINUATION
	t := c.tailBuf[:]
	t[0], t[1], t[2] = 0, 0, byte(len(refusedField))
	t[3], t[4] = byte(http2.FrameContinuation), byte(http2.FlagContinuationEndHeaders)
	binary.BigEndian.PutUint32(t[5:9], c.blockStream)
	copy(t[9:], refusedField)
	c.tail = t
}

// dedupeSettings renames every repeated parameter but the one that counts
// to an unknown parameter, which the server ignores: the last value when
// all are valid, else the first invalid one, which the server must refuse.
func dedupeSettings(p []byte) {
	n := len(p) / 6
	id := func(i int) http2.SettingID { return http2.SettingID(binary.BigEndian.Uint16(p[i*6:])) }
	val := func(i int) uint32 { return binary.BigEndian.Uint32(p[i*6+2:]) }
	spare := http2.SettingID(0xffff)
	for i := 0; i < n; i++ {
		keep := -1
		for j := 0; j < n; j++ {
			if id(j) != id(i) {
				continue
			}
			if (http2.Setting{ID: id(j), Val: val(j)}).Valid() != nil {
				keep = j
				break
			}
			keep = j
		}
		if keep == i {
			continue
		}
		// i repeats a later parameter (or precedes an invalid one).
		for used(p, n, spare) {
			spare--
		}
		binary.BigEndian.PutUint16(p[i*6:], uint16(spare))
		spare--
	}
}

func used(p []byte, n int, id http2.SettingID) bool {
	for i := 0; i < n; i++ {
		if http2.SettingID(binary.BigEndian.Uint16(p[i*6:])) == id {
			return true
		}
	}
	return false
}

// SetReadDeadline records the server's deadline; the connection's is the
// earlier of it and the guard's header deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serverDL = t
	return c.applyLocked()
}

// SetDeadline is SetReadDeadline and SetWriteDeadline.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *Conn) setHeaderDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headerDL = t
	_ = c.applyLocked()
}

func (c *Conn) headerDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.headerDL
}

func (c *Conn) applyLocked() error {
	t := c.serverDL
	if !c.headerDL.IsZero() && (t.IsZero() || c.headerDL.Before(t)) {
		t = c.headerDL
	}
	return c.Conn.SetReadDeadline(t)
}

// tlsConn keeps a TLS connection's state visible to the HTTP/2 server
// (which refuses TLS below 1.2 and fills Request.TLS from it).
type tlsConn struct {
	*Conn
	cs connectionStater
}

func (c tlsConn) ConnectionState() tls.ConnectionState { return c.cs.ConnectionState() }
