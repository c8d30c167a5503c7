package h1

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"sync/atomic"
)

// reader is a connection's input: the unread bytes of its pooled buffer,
// then the connection itself.
type reader struct {
	buf  []byte // nil while idle
	r, w int    // buf[r:w] is unread
	src  io.Reader
}

// Read serves buffered bytes first, then reads into p directly: a body
// larger than the buffer is not copied through it.
func (rd *reader) Read(p []byte) (int, error) {
	if rd.r < rd.w {
		n := copy(p, rd.buf[rd.r:rd.w])
		rd.r += n
		return n, nil
	}
	return rd.src.Read(p)
}

// fill reads more into the buffer, moving unread bytes to its start
// when it is full. It fails with errFull when no room is left.
func (rd *reader) fill() error {
	if rd.r > 0 && rd.w == len(rd.buf) {
		rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r = 0
	}
	if rd.w == len(rd.buf) {
		return errFull
	}
	n, err := rd.src.Read(rd.buf[rd.w:])
	rd.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

var errFull = errors.New("h1: line longer than the buffer")

// line returns the next CRLF-terminated line without its CRLF, reading
// more as needed, or an error for a line longer than max, a bare LF or
// the end of input.
func (rd *reader) line(max int) ([]byte, error) {
	for {
		if i := bytes.IndexByte(rd.buf[rd.r:rd.w], '\n'); i >= 0 {
			l := rd.buf[rd.r : rd.r+i+1]
			rd.r += i + 1
			if len(l) < 2 || l[len(l)-2] != '\r' || len(l) > max {
				return nil, errChunk
			}
			return l[:len(l)-2], nil
		}
		if rd.w-rd.r > max {
			return nil, errChunk
		}
		if err := rd.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// Errors of a request body.
var (
	errChunk      = errors.New("h1: malformed chunked request body")
	errBodyClosed = errors.New("h1: read on a closed request body")
)

// Limits of chunked framing: net/http's (a 4 KiB chunk-size line and
// trailer section, and at most 16 KiB of framing beyond what the data
// pays for, against a flood of tiny chunks).
const (
	maxChunkLine    = 4096
	maxTrailerBytes = 4096
	maxExcess       = 16 << 10
)

// body is a request body: Content-Length or chunked. It is allocated per
// request that has one (a late Read by something that kept it must not
// reach the next request's bytes), and cut off when the handler returns.
type body struct {
	c       *conn
	chunked bool
	remain  int64 // of the body (fixed) or the current chunk
	inChunk bool  // chunked: inside a chunk's data
	excess  int64
	err     error // sticky: io.EOF once complete
	closed  atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errBodyClosed
	}
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	b.c.continue100()
	if !b.chunked {
		if int64(len(p)) > b.remain {
			p = p[:b.remain]
		}
		n, err := b.c.in.Read(p)
		b.remain -= int64(n)
		switch {
		case b.remain == 0:
			b.err = io.EOF
			return n, io.EOF
		case err == io.EOF:
			b.err = io.ErrUnexpectedEOF
		case err != nil:
			b.err = err
		}
		return n, b.err
	}
	for !b.inChunk {
		if err := b.nextChunk(); err != nil {
			b.err = err
			return 0, err
		}
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.c.in.Read(p)
	b.remain -= int64(n)
	if err == io.EOF || err == nil && n == 0 {
		err = io.ErrUnexpectedEOF
	}
	if b.remain == 0 {
		b.inChunk = false
		if err == nil {
			err = b.chunkEnd()
		}
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// nextChunk reads a chunk-size line; at the last chunk it reads the
// trailer section (discarded) and ends the body with io.EOF.
func (b *body) nextChunk() error {
	in := &b.c.in
	line, err := in.line(maxChunkLine)
	if err != nil {
		return err
	}
	b.excess += int64(len(line)) + 2
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	n, ok := parseHex(line)
	if !ok {
		return errChunk
	}
	b.excess = max(b.excess-16-2*int64(n), 0)
	if n == 0 {
		section := 0
		for {
			l, err := in.line(maxTrailerBytes)
			if err != nil {
				return err
			}
			if section += len(l) + 2; section > maxTrailerBytes {
				return errChunk
			}
			if len(l) == 0 {
				return io.EOF
			}
			if l[0] == ' ' || l[0] == '\t' || bytes.IndexByte(l, ':') <= 0 {
				return errChunk
			}
		}
	}
	if b.excess > maxExcess {
		return errChunk
	}
	b.remain, b.inChunk = int64(n), true
	return nil
}

// chunkEnd reads the CRLF after a chunk's data.
func (b *body) chunkEnd() error {
	in := &b.c.in
	for in.w-in.r < 2 {
		if err := in.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	if in.buf[in.r] != '\r' || in.buf[in.r+1] != '\n' {
		return errChunk
	}
	in.r += 2
	return nil
}

// parseHex is net/http's chunk size: 1 to 16 hex digits (ParseUint
// takes no sign or prefix in base 16), below 2^63.
func parseHex(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(v), 16, 64)
	return n, err == nil && n < 1<<63
}

func (b *body) Close() error {
	b.closed.Store(true)
	return nil
}

// complete reports whether the body was read to its end, so the
// connection's next bytes are the next request.
func (b *body) complete() bool { return b.err == io.EOF }
