package mqtt

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// body strips a packet's fixed header.
func body(t testing.TB, pkt []byte) []byte {
	t.Helper()
	_, n, err := readHeader(bytes.NewReader(pkt))
	if err != nil {
		t.Fatal(err)
	}
	return pkt[len(pkt)-n:]
}

func TestParseConnectRoundTrips(t *testing.T) {
	for _, c := range []Connect{
		{Version: Version311, CleanStart: true, KeepAlive: 30, ClientID: "sensor-1"},
		{Version: Version5, KeepAlive: 60, ClientID: "dev", Username: "alice", HasUsername: true, Password: []byte("pw"), HasPassword: true},
		{Version: Version5, ClientID: "", Password: []byte("a.b.c"), HasPassword: true}, // v5 allows a password alone
		{Version: Version31, ClientID: "old", Username: "u", HasUsername: true},
	} {
		got, err := ParseConnect(body(t, AppendConnect(nil, c)))
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if got.Version != c.Version || got.ClientID != c.ClientID || got.Username != c.Username ||
			!bytes.Equal(got.Password, c.Password) || got.KeepAlive != c.KeepAlive || got.CleanStart != c.CleanStart {
			t.Errorf("parsed %+v, sent %+v", got, c)
		}
	}
}

func TestParseConnectRefusesWhatTheSpecCallsMalformed(t *testing.T) {
	good := body(t, AppendConnect(nil, Connect{Version: Version311, ClientID: "c"}))
	flagsAt := 2 + 4 + 1 // name, level
	with := func(edit func(b []byte) []byte) []byte { return edit(bytes.Clone(good)) }
	cases := map[string][]byte{
		"empty":             {},
		"truncated name":    good[:3],
		"not MQTT":          with(func(b []byte) []byte { b[2] = 'X'; return b }),
		"reserved flag":     with(func(b []byte) []byte { b[flagsAt] |= 1; return b }),
		"will QoS 3":        with(func(b []byte) []byte { b[flagsAt] |= 0x04 | 0x18; return b }),
		"will retain alone": with(func(b []byte) []byte { b[flagsAt] |= 0x20; return b }),
		"v3 password alone": with(func(b []byte) []byte { b[flagsAt] |= 0x40; return append(b, 0, 0) }),
		"client id overrun": with(func(b []byte) []byte { b[len(b)-2] = 0xff; return b }),
		"trailing bytes":    append(bytes.Clone(good), 0),
		"NUL in client id":  with(func(b []byte) []byte { b[len(b)-1] = 0; return b }),
		"invalid UTF-8":     with(func(b []byte) []byte { b[len(b)-1] = 0xff; return b }),
		"v5 props overrun":  body(t, []byte{0x10, 11, 0, 4, 'M', 'Q', 'T', 'T', 5, 0, 0, 0, 0x7f}),
	}
	for name, b := range cases {
		if _, err := ParseConnect(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	c, err := ParseConnect(with(func(b []byte) []byte { b[6] = 6; return b }))
	if !errors.Is(err, ErrVersion) || c.Version != 6 {
		t.Errorf("level 6: got %v (version %d), want ErrVersion with the level", err, c.Version)
	}
}

func TestVarintIsAtMostFourBytes(t *testing.T) {
	if _, _, err := readHeader(bytes.NewReader([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})); err != nil {
		t.Fatalf("largest 4-byte length refused: %v", err)
	}
	if _, _, err := readHeader(bytes.NewReader([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01})); !errors.Is(err, errVarintTooLong) {
		t.Fatalf("5-byte length: %v", err)
	}
	if _, _, err := readHeader(bytes.NewReader([]byte{0x30, 0xff})); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut length: %v", err)
	}
}

// A declared 200 MiB CONNECT within the limit must not be allocated
// before it arrives: only the bytes present are buffered.
func TestReadConnectAllocatesOnlyWhatArrives(t *testing.T) {
	in := append([]byte{0x10}, appendVarint(nil, 200<<20)...)
	in = append(in, make([]byte, 100)...)
	allocs := testing.AllocsPerRun(5, func() {
		_, _, err := ReadConnect(bufio.NewReader(bytes.NewReader(in)), MaxRemainingLength)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatal(err)
		}
	})
	if allocs > 5 {
		t.Errorf("%v allocations", allocs)
	}
	if _, _, err := ReadConnect(bufio.NewReader(bytes.NewReader(in)), 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over max_packet_size: %v", err)
	}
	if _, _, err := ReadConnect(bufio.NewReader(strings.NewReader("\x30\x00")), 1<<20); !errors.Is(err, ErrNotConnect) {
		t.Errorf("PUBLISH first: %v", err)
	}
}

func TestConnackEncodingPerVersion(t *testing.T) {
	if got := Connack(Version311, V3BadCredentials); !bytes.Equal(got, []byte{0x20, 2, 0, 4}) {
		t.Errorf("3.1.1: % x", got)
	}
	if got := Connack(Version5, V5BadCredentials); !bytes.Equal(got, []byte{0x20, 3, 0, 0x86, 0}) {
		t.Errorf("5: % x", got)
	}
}

// relay runs input through an uplink and returns what it passed on and
// the error it ended with.
func relay(input []byte, version byte, max int) ([]byte, error, []byte) {
	var sent []byte
	u := &uplink{r: bufio.NewReader(bytes.NewReader(input)), version: version, max: max,
		onError: func(code byte) bool { sent = append(sent, code); return false }}
	var out bytes.Buffer
	_, err := io.Copy(&out, u)
	return out.Bytes(), err, sent
}

func TestUplinkPassesWellFramedPacketsUnchanged(t *testing.T) {
	in := []byte{
		0x82, 6, 0, 1, 0, 1, 'a', 0, // SUBSCRIBE
		0x30, 3, 0, 1, 't', // PUBLISH QoS 0, empty payload
		0xc0, 0, // PINGREQ
		0xe0, 0, // DISCONNECT
	}
	out, err, _ := relay(in, Version311, 1024)
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("got % x, %v", out, err)
	}
}

func TestUplinkStopsAtTheFirstBadPacket(t *testing.T) {
	ping := []byte{0xc0, 0}
	for name, tc := range map[string]struct {
		bad  []byte
		want error
		code byte
	}{
		"oversized":       {[]byte{0x30, 0x80, 0x08}, ErrTooLarge, V5PacketTooLarge}, // 1024 bytes
		"varint 5":        {[]byte{0x30, 0xff, 0xff, 0xff, 0xff, 1}, ErrMalformed, V5Malformed},
		"type 0":          {[]byte{0x00, 0}, ErrMalformed, V5Malformed},
		"second CONNECT":  {[]byte{0x10, 0}, ErrProtocol, V5ProtocolError},
		"SUBSCRIBE flags": {[]byte{0x80, 0}, ErrMalformed, V5Malformed},
		"QoS 3":           {[]byte{0x36, 0}, ErrMalformed, V5Malformed},
	} {
		out, err, codes := relay(append(bytes.Clone(ping), tc.bad...), Version5, 1024)
		if !errors.Is(err, tc.want) || !bytes.Equal(out, ping) || !bytes.Equal(codes, []byte{tc.code}) {
			t.Errorf("%s: passed % x, err %v, DISCONNECT %x", name, out, err, codes)
		}
	}
	if _, err, codes := relay([]byte{0xf0, 0}, Version311, 1024); !errors.Is(err, ErrMalformed) || len(codes) != 0 {
		t.Errorf("AUTH in 3.1.1: %v, DISCONNECT %x (3.1.1 has none)", err, codes)
	}
	if _, err, _ := relay([]byte{0x30, 5, 0}, Version311, 1024); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut body: %v", err)
	}
}

func TestDownlinkFollowsPacketBoundaries(t *testing.T) {
	d := newDownlink(nil)
	d.advance([]byte{0x30, 0x82}) // a PUBLISH of 130 bytes, length split
	if d.hn == 0 {
		t.Fatal("boundary inside a header")
	}
	d.advance([]byte{0x01})
	d.advance(make([]byte, 129))
	if d.left != 1 {
		t.Fatalf("left %d, want 1", d.left)
	}
	d.advance([]byte{0, 0xd0, 0})
	if d.hn != 0 || d.left != 0 {
		t.Fatalf("not at a boundary: hn %d left %d", d.hn, d.left)
	}
}
