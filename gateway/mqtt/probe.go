package mqtt

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// probeConnect is a 3.1.1 CONNECT with clean session, a 60s keep-alive and
// an empty client id (so the broker assigns one and no client's session
// is taken over).
var probeConnect = AppendConnect(nil, Connect{Version: Version311, CleanStart: true, KeepAlive: 60})

var probeDisconnect = []byte{typeDisconnect << 4, 0}

// Probe is a health check that speaks MQTT: it connects to addr, sends a
// CONNECT and passes on a well-formed CONNACK, whatever its return code:
// a broker that refuses the probe's missing credentials (0x05) or its
// empty client id (0x02) has still parsed and answered MQTT, which is what
// "alive" means here. It then sends DISCONNECT. ctx bounds the exchange.
func Probe(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.Write(probeConnect); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 64)
	first, n, err := readHeader(br)
	if err != nil {
		return fmt.Errorf("no CONNACK: %w", err)
	}
	if first != typeConnack<<4 || n != 2 {
		return fmt.Errorf("no CONNACK: got packet byte %#x, length %d", first, n)
	}
	var body [2]byte
	if _, err := io.ReadFull(br, body[:]); err != nil {
		return fmt.Errorf("no CONNACK: %w", noEOF(err))
	}
	if body[0] > 1 {
		return fmt.Errorf("malformed CONNACK: flags %#x", body[0])
	}
	_, _ = c.Write(probeDisconnect)
	return nil
}
