package mqtt_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/mqtt"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func mqttBlock(edit func(m *mqtt.Config)) func(c *l4.Config) {
	return func(c *l4.Config) {
		var m mqtt.Config
		m.SetDefaults()
		edit(&m)
		c.MQTT = &m
	}
}

func accepted(t *testing.T, addr string, c mqtt.Connect) net.Conn {
	t.Helper()
	nc, got := rawConnect(t, addr, c)
	if len(got) < 4 || got[0] != 0x20 || got[3] != 0 {
		t.Fatalf("%s: got % x, want the broker's CONNACK 0x00", c.ClientID, got)
	}
	return nc
}

// Over the connection rate, a client id's CONNECT gets 0x9F (5) or 0x03
// (3.1.1); the bucket refills with time (a fake clock here).
func TestConnectionRatePerClientID(t *testing.T) {
	bs := startBrokers(t, 1)
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	_, addr := gateway(t, bs, clk, mqttBlock(func(m *mqtt.Config) { m.ConnectionRate = &mqtt.Rate{Rate: 1, Burst: 1} }))

	v5 := mqtt.Connect{Version: mqtt.Version5, CleanStart: true, ClientID: "five"}
	v3 := mqtt.Connect{Version: mqtt.Version311, CleanStart: true, ClientID: "three"}
	accepted(t, addr, v5)
	accepted(t, addr, v3)
	accepted(t, addr, mqtt.Connect{Version: mqtt.Version311, CleanStart: true, ClientID: "other"}) // its own bucket
	for _, tc := range []struct {
		c    mqtt.Connect
		want []byte
	}{{v5, []byte{0x20, 3, 0, 0x9f, 0}}, {v3, []byte{0x20, 2, 0, 0x03}}} {
		nc, got := rawConnect(t, addr, tc.c)
		if !bytes.Equal(got, tc.want) {
			t.Fatalf("%s again at once: got % x, want % x", tc.c.ClientID, got, tc.want)
		}
		expectClosed(t, nc)
	}
	clk.Advance(time.Second)
	accepted(t, addr, v5)
	accepted(t, addr, v3)
}

// Over the publish rate the gateway stops reading the client (TCP
// backpressure) and drops nothing: each PUBLISH reaches the broker when
// the bucket has a token for it, in order.
func TestPublishRateHoldsBackWithoutDropping(t *testing.T) {
	bs := startBrokers(t, 1)
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	_, addr := gateway(t, bs, clk, mqttBlock(func(m *mqtt.Config) { m.PublishRate = &mqtt.Rate{Rate: 1, Burst: 1} }))

	var mu sync.Mutex
	var got []string
	received := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
	sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + bs[0].Addr).SetClientID("sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(testkit.Patience) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { sub.Disconnect(0) })
	if tok := sub.Subscribe("bp/#", 0, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		got = append(got, m.Topic())
		mu.Unlock()
	}); !tok.WaitTimeout(testkit.Patience) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	nc := accepted(t, addr, mqtt.Connect{Version: mqtt.Version311, CleanStart: true, ClientID: "pub"})
	var burst []byte
	for _, topic := range []string{"bp/1", "bp/2", "bp/3"} {
		burst = append(burst, 0x30, byte(2+len(topic)), 0, byte(len(topic)))
		burst = append(burst, topic...)
	}
	if _, err := nc.Write(burst); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"bp/1", "bp/2", "bp/3"} {
		testkit.Eventually(t, want+" delivered", func() bool { return len(received()) == i+1 })
		if i < 2 {
			testkit.Eventually(t, "the next PUBLISH held for the rate", func() bool { return clk.Waiters() > 0 })
			if r := received(); len(r) != i+1 {
				t.Fatalf("delivered %v while the rate held the next one", r)
			}
			clk.Advance(time.Second)
		}
		if r := received(); r[i] != want {
			t.Fatalf("order: %v", r)
		}
	}
}

// A malformed or oversized packet closes that connection only; a v5
// client is told why first (DISCONNECT 0x95, 0x81), a 3.1.1 one has no
// such packet and is just closed.
func TestBadPacketsCloseOnlyTheirConnection(t *testing.T) {
	bs := startBrokers(t, 1)
	p, addr := gateway(t, bs, nil, mqttBlock(func(m *mqtt.Config) {
		m.MaxPacketSize = 1024
		m.ConnectTimeout = 500 * time.Millisecond
	}))
	bystander := accepted(t, addr, mqtt.Connect{Version: mqtt.Version5, CleanStart: true, ClientID: "bystander"})
	ping := func() {
		t.Helper()
		if _, err := bystander.Write([]byte{0xc0, 0}); err != nil {
			t.Fatal(err)
		}
		if got := readPacket(t, bystander); !bytes.Equal(got, []byte{0xd0, 0}) {
			t.Fatalf("bystander's PINGREQ: got % x, want PINGRESP", got)
		}
	}
	ping()
	oversized := append([]byte{0x30, 0x80, 0x08}, make([]byte, 200)...) // declares 1024 + header
	connect := func(version, edit byte, at int) []byte {
		b := mqtt.AppendConnect(nil, mqtt.Connect{Version: version, ClientID: "r"})
		b[at] = edit
		return b
	}
	const levelAt, flagsAt = 8, 9
	for _, tc := range []struct {
		name    string
		version byte // after an accepted CONNECT of this version; 0: from the start
		send    []byte
		want    []byte
	}{
		{"v5 oversized", mqtt.Version5, oversized, []byte{0xe0, 2, 0x95, 0}},
		{"v5 type 0", mqtt.Version5, []byte{0x00, 0}, []byte{0xe0, 2, 0x81, 0}},
		{"v5 varint of 5 bytes", mqtt.Version5, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, []byte{0xe0, 2, 0x81, 0}},
		{"v5 second CONNECT", mqtt.Version5, mqtt.AppendConnect(nil, mqtt.Connect{Version: 5, ClientID: "x"}), []byte{0xe0, 2, 0x82, 0}},
		{"v311 oversized", mqtt.Version311, oversized, nil},
		{"oversized CONNECT", 0, []byte{0x10, 0x80, 0x10}, nil},
		{"HTTP instead of MQTT", 0, []byte("GET / HTTP/1.1\r\n\r\n"), nil},
		{"v5 CONNECT with a reserved flag", 0, connect(mqtt.Version5, 1, flagsAt), []byte{0x20, 3, 0, 0x81, 0}},
		{"v311 CONNECT with a reserved flag", 0, connect(mqtt.Version311, 1, flagsAt), nil},
		{"level 6", 0, connect(mqtt.Version311, 6, levelAt), []byte{0x20, 3, 0, 0x84, 0}},
		{"level 2", 0, connect(mqtt.Version311, 2, levelAt), []byte{0x20, 2, 0, 0x01}},
		{"nothing (connect_timeout)", 0, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var nc net.Conn
			if tc.version != 0 {
				nc = accepted(t, addr, mqtt.Connect{Version: tc.version, CleanStart: true, ClientID: "bad"})
			} else {
				nc = testkit.Dial(t, addr)
			}
			if _, err := nc.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			if got := readPacket(t, nc); !bytes.Equal(got, tc.want) {
				t.Fatalf("got % x, want % x", got, tc.want)
			}
			expectClosed(t, nc)
			ping()
		})
	}
	if s := p.Stats(); s.Rejected != 7 {
		t.Errorf("Rejected = %d, want 7", s.Rejected)
	}
}

// The MQTT health probe passes on a broker and fails on a TCP server
// that does not speak MQTT, or on nothing.
func TestProbeSpeaksMQTT(t *testing.T) {
	bs := startBrokers(t, 1)
	probe := func(addr string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return mqtt.Probe(ctx, addr)
	}
	if err := probe(bs[0].Addr); err != nil {
		t.Errorf("mosquitto: %v", err)
	}
	for name, addr := range map[string]string{
		"echo":    testkit.StartEcho(t, "echo").Addr(),
		"http":    testkit.StartLines(t, "http", "HTTP/1.1 400 Bad Request\r\n\r\n").Addr(),
		"silent":  testkit.StartTCP(t, "silent", func(_ *testkit.TCPBackend, c net.Conn) { c.Read(make([]byte, 1)) }).Addr(),
		"nothing": testkit.DeadAddr(t),
	} {
		if err := probe(addr); err == nil {
			t.Errorf("%s passed the MQTT probe", name)
		}
	}
}

// The listener's idle_timeout works through the MQTT framing (its read
// deadlines fire inside the relay's reads): traffic keeps a connection,
// silence closes it.
func TestIdleTimeoutThroughTheRelay(t *testing.T) {
	bs := startBrokers(t, 1)
	p, addr := gateway(t, bs, nil, func(c *l4.Config) { c.IdleTimeout = 300 * time.Millisecond })
	nc := accepted(t, addr, mqtt.Connect{Version: mqtt.Version311, CleanStart: true, ClientID: "idle"})
	if _, err := nc.Write([]byte{0xc0, 0}); err != nil {
		t.Fatal(err)
	}
	if got := readPacket(t, nc); !bytes.Equal(got, []byte{0xd0, 0}) {
		t.Fatalf("PINGREQ: got % x", got)
	}
	expectClosed(t, nc)
	if s := p.Stats(); s.IdleClosed != 1 {
		t.Errorf("IdleClosed = %d, want 1", s.IdleClosed)
	}
}
