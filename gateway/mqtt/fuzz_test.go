package mqtt

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// FuzzPackets feeds arbitrary bytes to the CONNECT reader and, after it,
// to the client-to-broker relay. Neither may panic, and what the relay
// passes on is always a prefix of its input.
func FuzzPackets(f *testing.F) {
	for _, c := range []Connect{
		{Version: Version311, CleanStart: true, ClientID: "c1"},
		{Version: Version5, ClientID: "c2", Username: "u", HasUsername: true, Password: []byte("p"), HasPassword: true},
		{Version: Version31, ClientID: "c3"},
	} {
		f.Add(AppendConnect(nil, c))
		f.Add(append(AppendConnect(nil, c), 0x30, 3, 0, 1, 't', 0xc0, 0, 0xe0, 0))
	}
	f.Add([]byte{0x10, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 5, 0xff, 0, 0, 0xff, 0xff})
	f.Add([]byte{0x30, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		raw, c, err := ReadConnect(br, 1024)
		version := byte(Version5)
		if err == nil {
			if !bytes.HasPrefix(in, raw) {
				t.Fatalf("CONNECT re-encoded differently: % x", raw)
			}
			version = c.Version
		} else {
			br = bufio.NewReader(bytes.NewReader(in))
		}
		u := &uplink{r: br, version: version, max: 1024, onError: func(byte) bool { return false }}
		var out bytes.Buffer
		io.Copy(&out, u)
		rest := in[len(raw):]
		if !bytes.HasPrefix(rest, out.Bytes()) {
			t.Fatalf("relay passed bytes it was not sent")
		}
		d := newDownlink(nil)
		d.advance(in)
	})
}
