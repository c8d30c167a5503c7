// Package mqtt is the MQTT awareness of the L4 listeners' "mqtt" mode: a
// bounds-checked parser for MQTT 3.1.1 and 5 packets (the CONNECT packet in
// full, every other packet's fixed header), the CONNACK and DISCONNECT
// encodings, the admission of a client at CONNECT (authentication and a
// per-client-id connection rate), the client-to-broker relay that frames
// packets and applies the publish rate, and a health probe that speaks
// MQTT to a broker.
//
// Nothing a client sends is trusted: every length is checked against the
// bytes present and against MaxPacketSize before it is used, the
// remaining-length varint is at most four bytes (the spec's limit), and no
// buffer is sized from a declared length before those bytes arrive.
package mqtt

import (
	"encoding/binary"
	"errors"
	"io"
	"unicode/utf8"
)

// Packet types (the fixed header's high nibble).
const (
	typeConnect    = 1
	typeConnack    = 2
	typePublish    = 3
	typeSubscribe  = 8
	typeSuback     = 9
	typeUnsub      = 10
	typeUnsuback   = 11
	typePingresp   = 13
	typeDisconnect = 14
	typeAuth       = 15
	typePubrel     = 6
)

// Protocol levels of the CONNECT packet.
const (
	Version31  = 3 // MQTT 3.1 ("MQIsdp"): answered like 3.1.1
	Version311 = 4
	Version5   = 5
)

// CONNACK codes, 3.1.1 return codes and 5 reason codes.
const (
	V3Accepted           = 0x00
	V3BadProtocolVersion = 0x01
	V3ServerUnavailable  = 0x03
	V3BadCredentials     = 0x04
	V3NotAuthorized      = 0x05

	V5Success            = 0x00
	V5Malformed          = 0x81
	V5ProtocolError      = 0x82
	V5BadProtocolVersion = 0x84
	V5BadCredentials     = 0x86
	V5NotAuthorized      = 0x87
	V5PacketTooLarge     = 0x95
	V5ConnectionRate     = 0x9F
)

// MaxRemainingLength is the largest value a four-byte varint holds.
const MaxRemainingLength = 268_435_455

// Errors of the parser. A relay or an admission that meets one closes
// that one connection.
var (
	ErrMalformed     = errors.New("mqtt: malformed packet")
	ErrProtocol      = errors.New("mqtt: protocol error")
	ErrTooLarge      = errors.New("mqtt: packet larger than max_packet_size")
	ErrVersion       = errors.New("mqtt: unsupported protocol version")
	ErrNotConnect    = errors.New("mqtt: first packet is not CONNECT")
	errVarintTooLong = errors.New("mqtt: malformed packet: remaining length longer than 4 bytes")
)

// Connect is what the gateway reads of a CONNECT packet.
type Connect struct {
	Version     byte // Version31, Version311 or Version5
	CleanStart  bool
	KeepAlive   uint16
	ClientID    string
	Username    string
	Password    []byte
	HasUsername bool
	HasPassword bool
}

// decoder reads big-endian fields from a packet body, every read checked
// against what is left.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = ErrMalformed, nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint16() uint16 {
	if len(d.b) < 2 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

// binary is a two-byte length and that many bytes.
func (d *decoder) binary() []byte {
	n := int(d.uint16())
	if len(d.b) < n {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// string is a binary that must be well-formed UTF-8 without U+0000
// (3.1.1 §1.5.3, 5 §1.5.4).
func (d *decoder) string() string {
	v := d.binary()
	if !utf8.Valid(v) {
		d.fail()
		return ""
	}
	for _, c := range v {
		if c == 0 {
			d.fail()
			return ""
		}
	}
	return string(v)
}

// skipProperties skips a v5 property block: a varint length and that
// many bytes (the gateway needs none of the properties).
func (d *decoder) skipProperties() {
	n, used, err := decodeVarint(d.b)
	if err != nil || len(d.b)-used < n {
		d.fail()
		return
	}
	d.b = d.b[used+n:]
}

// decodeVarint decodes a variable byte integer from b: the value and the
// bytes used. It fails on a fifth byte or when b ends first.
func decodeVarint(b []byte) (value, used int, err error) {
	mult := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, ErrMalformed
		}
		value += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return value, i + 1, nil
		}
		mult *= 128
	}
	return 0, 0, errVarintTooLong
}

// ParseConnect parses the body (after the fixed header) of a CONNECT
// packet. On ErrVersion the returned Connect has Version set to the level
// sent, so the caller can answer in the right encoding; on ErrMalformed
// Version is set when it was read.
func ParseConnect(body []byte) (Connect, error) {
	var c Connect
	d := decoder{b: body}
	name := d.binary()
	level := d.byte()
	if d.err != nil {
		return c, ErrMalformed
	}
	c.Version = level
	switch {
	case string(name) == "MQTT" && (level == Version311 || level == Version5):
	case string(name) == "MQIsdp" && level == Version31:
	case string(name) == "MQTT" || string(name) == "MQIsdp":
		return c, ErrVersion
	default:
		// Not MQTT at all: 3.1.1 §3.1.2.1 says close without a CONNACK.
		c.Version = 0
		return c, ErrMalformed
	}
	flags := d.byte()
	c.KeepAlive = d.uint16()
	if d.err != nil {
		return c, ErrMalformed
	}
	will := flags&0x04 != 0
	willQoS := flags >> 3 & 3
	c.HasUsername, c.HasPassword = flags&0x80 != 0, flags&0x40 != 0
	c.CleanStart = flags&0x02 != 0
	switch {
	case flags&0x01 != 0, // reserved bit
		willQoS == 3,
		!will && (willQoS != 0 || flags&0x20 != 0), // will QoS/retain without a will
		c.Version != Version5 && c.HasPassword && !c.HasUsername:
		return c, ErrMalformed
	}
	if c.Version == Version5 {
		d.skipProperties()
	}
	c.ClientID = d.string()
	if will {
		if c.Version == Version5 {
			d.skipProperties()
		}
		d.string() // will topic
		d.binary() // will payload
	}
	if c.HasUsername {
		c.Username = d.string()
	}
	if c.HasPassword {
		c.Password = d.binary()
	}
	if d.err != nil || len(d.b) != 0 {
		return c, ErrMalformed
	}
	return c, nil
}

// Connack encodes a CONNACK with code for version: 3.1.1 (and 3.1) has
// a two-byte body, 5 adds an empty property block. A refusal never sets
// session present.
func Connack(version, code byte) []byte {
	if version == Version5 {
		return []byte{typeConnack << 4, 3, 0, code, 0}
	}
	return []byte{typeConnack << 4, 2, 0, code}
}

// Disconnect encodes a v5 DISCONNECT with a reason code and no
// properties (3.1.1 has no server DISCONNECT).
func Disconnect(code byte) []byte {
	return []byte{typeDisconnect << 4, 2, code, 0}
}

// readHeader reads a fixed header from r: the first byte and the
// remaining length. It reads at most five bytes.
func readHeader(r io.ByteReader) (first byte, length int, err error) {
	first, err = r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	var buf [4]byte
	for i := range buf {
		b, err := r.ReadByte()
		if err != nil {
			return 0, 0, noEOF(err)
		}
		buf[i] = b
		if b&0x80 == 0 {
			length, _, err = decodeVarint(buf[:i+1])
			return first, length, err
		}
	}
	return 0, 0, errVarintTooLong
}

// noEOF turns an EOF inside a packet into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readBody reads exactly n bytes, growing its buffer only as bytes
// arrive (doubling from 4 KiB), so a client that declares a large packet
// and sends nothing costs nothing.
func readBody(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, 4096))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil && len(buf) < n {
			return nil, noEOF(err)
		}
	}
	return buf, nil
}

// ReadConnect reads the first packet of a connection, which must be a
// CONNECT of at most maxSize bytes in all, and parses it. It returns the
// packet as read (to forward to the broker) and its parse. Errors are
// ErrNotConnect, ErrTooLarge, ErrVersion, ErrMalformed or a read error.
func ReadConnect(r interface {
	io.Reader
	io.ByteReader
}, maxSize int) (raw []byte, c Connect, err error) {
	first, n, err := readHeader(r)
	if err != nil {
		return nil, c, err
	}
	if first != typeConnect<<4 {
		return nil, c, ErrNotConnect
	}
	hlen := 1 + varintLen(n)
	if hlen+n > maxSize {
		return nil, c, ErrTooLarge
	}
	body, err := readBody(r, n)
	if err != nil {
		return nil, c, err
	}
	c, err = ParseConnect(body)
	if err != nil {
		return nil, c, err
	}
	raw = make([]byte, 0, hlen+n)
	raw = append(raw, first)
	raw = appendVarint(raw, n)
	return append(raw, body...), c, nil
}

func varintLen(n int) int {
	l := 1
	for n >= 128 {
		n /= 128
		l++
	}
	return l
}

func appendVarint(b []byte, n int) []byte {
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

// checkFirst checks a client packet's first byte after CONNECT: its type
// exists in version, travels client to broker, and has the flags the spec
// fixes for it. It returns ErrMalformed or ErrProtocol.
func checkFirst(first, version byte) error {
	typ, flags := first>>4, first&0x0f
	switch typ {
	case 0:
		return ErrMalformed
	case typeConnect, typeConnack, typeSuback, typeUnsuback, typePingresp:
		return ErrProtocol // a second CONNECT, or a broker-to-client packet
	case typePublish:
		if flags>>1&3 == 3 { // QoS 3
			return ErrMalformed
		}
		return nil
	case typeAuth:
		if version != Version5 {
			return ErrMalformed
		}
	case typePubrel, typeSubscribe, typeUnsub:
		if flags != 2 {
			return ErrMalformed
		}
		return nil
	}
	if flags != 0 {
		return ErrMalformed
	}
	return nil
}

// AppendConnect appends a CONNECT packet for c (no will, no v5
// properties) to b. The health probe and tests speak through it.
func AppendConnect(b []byte, c Connect) []byte {
	flags := byte(0)
	if c.CleanStart {
		flags |= 0x02
	}
	if c.HasUsername {
		flags |= 0x80
	}
	if c.HasPassword {
		flags |= 0x40
	}
	name := "MQTT"
	if c.Version == Version31 {
		name = "MQIsdp"
	}
	body := appendBinary(nil, []byte(name))
	body = append(body, c.Version, flags, byte(c.KeepAlive>>8), byte(c.KeepAlive))
	if c.Version == Version5 {
		body = append(body, 0) // no properties
	}
	body = appendBinary(body, []byte(c.ClientID))
	if c.HasUsername {
		body = appendBinary(body, []byte(c.Username))
	}
	if c.HasPassword {
		body = appendBinary(body, c.Password)
	}
	b = append(b, typeConnect<<4)
	b = appendVarint(b, len(body))
	return append(b, body...)
}

func appendBinary(b, v []byte) []byte {
	b = append(b, byte(len(v)>>8), byte(len(v)))
	return append(b, v...)
}
