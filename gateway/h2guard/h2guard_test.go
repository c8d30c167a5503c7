package h2guard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// loopback returns both ends of a TCP connection on 127.0.0.1.
func loopback(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// frame renders one raw frame.
func frame(typ http2.FrameType, flags http2.Flags, stream uint32, payload []byte) []byte {
	b := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), byte(typ), byte(flags), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

func settings(kv ...uint32) []byte {
	var p []byte
	for i := 0; i+1 < len(kv); i += 2 {
		p = binary.BigEndian.AppendUint16(p, uint16(kv[i]))
		p = binary.BigEndian.AppendUint32(p, kv[i+1])
	}
	return frame(http2.FrameSettings, 0, 0, p)
}

func hpackBlock(fields ...string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return buf.Bytes()
}

var get = []string{":method", "GET", ":scheme", "http", ":authority", "a.test", ":path", "/"}

// clientBytes is a connection's worth of client frames: repeated settings,
// a good request, a request whose block (split over CONTINUATION) carries
// Connection, a padded one with TE: gzip, and DATA, PING, a good request.
func clientBytes() []byte {
	var b []byte
	b = append(b, http2.ClientPreface...)
	b = append(b, settings(uint32(http2.SettingInitialWindowSize), 100, uint32(http2.SettingInitialWindowSize), 1, uint32(http2.SettingEnablePush), 0)...)
	b = append(b, frame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, hpackBlock(get...))...)
	bad := hpackBlock(append(get, "connection", "keep-alive")...)
	b = append(b, frame(http2.FrameHeaders, 0, 3, bad[:5])...)
	b = append(b, frame(http2.FrameContinuation, http2.FlagContinuationEndHeaders, 3, bad[5:])...)
	te := hpackBlock(append(get, "te", "gzip")...)
	b = append(b, frame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersPadded, 5, append(append([]byte{3}, te...), 0, 0, 0))...)
	b = append(b, frame(http2.FrameData, http2.FlagDataEndStream, 5, bytes.Repeat([]byte("d"), 1000))...)
	b = append(b, frame(http2.FramePing, 0, 0, []byte("12345678"))...)
	b = append(b, frame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 7, hpackBlock(append(get, "te", "trailers")...))...)
	return b
}

// What the server reads must come out the same however the client's bytes
// are split on the wire and however small the server's reads are.
func TestGuardedStreamIsSplitIndependent(t *testing.T) {
	in := clientBytes()
	var want []byte
	for _, wchunk := range []int{len(in), 1, 7} {
		for _, rchunk := range []int{4096, 1, 9, 100} {
			client, server := loopback(t)
			go func() {
				for b := in; len(b) > 0; {
					n := min(wchunk, len(b))
					if _, err := client.Write(b[:n]); err != nil {
						return
					}
					b = b[n:]
				}
				client.(*net.TCPConn).CloseWrite()
			}()
			g := Server(server, Config{})
			got, err := readAll(g, rchunk)
			if err != nil {
				t.Fatalf("write %d read %d: %v", wchunk, rchunk, err)
			}
			if want == nil {
				want = got
				checkServerView(t, got)
			} else if !bytes.Equal(got, want) {
				t.Fatalf("write %d read %d: the server reads other bytes", wchunk, rchunk)
			}
		}
	}
}

func readAll(r io.Reader, chunk int) ([]byte, error) {
	var out []byte
	p := make([]byte, chunk)
	for {
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// checkServerView reads b as Go's HTTP/2 server does and checks it sees
// one SETTINGS value per parameter, a stream error for the malformed
// blocks, and everything else as sent.
func checkServerView(t *testing.T, b []byte) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte(http2.ClientPreface)) {
		t.Fatal("preface changed")
	}
	fr := http2.NewFramer(nil, bytes.NewReader(b[len(http2.ClientPreface):]))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var got []string
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			break
		}
		var se http2.StreamError
		if errors.As(err, &se) {
			got = append(got, "stream error "+se.Code.String())
			continue
		}
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.HasDuplicates() {
				t.Error("SETTINGS still repeats a parameter")
			}
			v, _ := f.Value(http2.SettingInitialWindowSize)
			got = append(got, "settings window "+itoa(v))
		case *http2.MetaHeadersFrame:
			got = append(got, "request "+itoa(f.StreamID))
		case *http2.DataFrame:
			got = append(got, "data "+itoa(uint32(len(f.Data()))))
		default:
			got = append(got, f.Header().Type.String())
		}
	}
	want := "settings window 1, request 1, stream error PROTOCOL_ERROR, stream error PROTOCOL_ERROR, data 1000, PING, request 7"
	if strings.Join(got, ", ") != want {
		t.Fatalf("server sees\n %s\nwant\n %s", strings.Join(got, ", "), want)
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// An invalid first repeated value is the one the server must see, so it
// refuses the frame with that value's own error.
func TestDedupeSettingsKeepsFirstInvalid(t *testing.T) {
	p := settings(uint32(http2.SettingInitialWindowSize), 1<<31, uint32(http2.SettingInitialWindowSize), 5)[9:]
	dedupeSettings(p)
	if id := binary.BigEndian.Uint16(p); id != uint16(http2.SettingInitialWindowSize) {
		t.Fatalf("invalid value renamed to %#x", id)
	}
	if id := binary.BigEndian.Uint16(p[6:]); id == uint16(http2.SettingInitialWindowSize) {
		t.Fatal("valid repeat kept")
	}
}

// On the cleartext listener HTTP/1 passes byte for byte, in net/http's
// read sizes; a first line that is not HTTP reads as a closed connection.
func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"\r\nGET / HTTP/1.1\r\n\r\n", "\r\nGET / HTTP/1.1\r\n\r\n"},
		{"INVALID CONNECTION PREFACE\r\n\r\n", ""},
		{"GET /\r\n", ""},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	} {
		client, server := loopback(t)
		go func() {
			_, _ = io.WriteString(client, tc.in)
			client.(*net.TCPConn).CloseWrite()
		}()
		g := Sniff(server, Config{})
		p := make([]byte, 14) // net/http first peeks at 14 bytes
		n, err := g.Read(p)
		got := string(p[:n])
		if err == nil {
			rest, err := readAll(g, 4096)
			if err != nil {
				t.Errorf("%q: %v", tc.in, err)
			}
			got += string(rest)
		}
		if got != tc.want {
			t.Errorf("%q: server read %q, want %q", tc.in, got, tc.want)
		}
	}
}

// The header deadline is the server's deadline when that is earlier.
func TestServerDeadlineStillApplies(t *testing.T) {
	_, server := loopback(t)
	g := Server(server, Config{ReadHeaderTimeout: time.Hour})
	_ = g.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := g.Read(make([]byte, 9)); !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
		t.Fatalf("read past the server's deadline: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// DATA frames pass through the guard with no allocation; the cost is a
// few comparisons per frame.
func BenchmarkDataFrames(b *testing.B) {
	benchFrames(b, frame(http2.FrameData, 0, 1, make([]byte, 16<<10)))
}

// HEADERS frames are decoded twice: by the guard and by the server.
func BenchmarkHeadersFrames(b *testing.B) {
	block := hpackBlock(append(get, "user-agent", "bench/1.0", "accept", "*/*", "cookie", strings.Repeat("c", 200))...)
	benchFrames(b, frame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, block))
}

func benchFrames(b *testing.B, data []byte) {
	for _, guarded := range []bool{false, true} {
		name := "direct"
		if guarded {
			name = "guarded"
		}
		b.Run(name, func(b *testing.B) {
			src := &repeatConn{prefix: []byte(http2.ClientPreface), frame: data}
			var c net.Conn = src
			if guarded {
				c = Server(src, Config{})
			}
			fr := http2.NewFramer(nil, c)
			fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
			if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// repeatConn serves prefix, then frame forever.
type repeatConn struct {
	net.Conn
	prefix, frame []byte
	off           int
}

func (r *repeatConn) Read(p []byte) (int, error) {
	if len(r.prefix) > 0 {
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		return n, nil
	}
	n := copy(p, r.frame[r.off:])
	r.off = (r.off + n) % len(r.frame)
	return n, nil
}

func (r *repeatConn) SetReadDeadline(time.Time) error { return nil }
