package config

import (
	"path/filepath"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/mqtt"
)

// The mqtt block of an l4 listener: its defaults, and its errors with
// FILE:LINE and the full key.
func TestL4MQTTBlock(t *testing.T) {
	const head = "routes: [{name: r, pool: p}]\npools: [{name: p, backends: [{address: \"127.0.0.1:1\"}]}]\nl4:\n  - name: m\n    listen: \":7000\"\n    backends: [{address: \"127.0.0.1:2\"}]\n"
	c, err := Parse(filepath.Join("conf", "t.yaml"), []byte(head+"    mode: mqtt\n    strategy: consistent_hash\n    mqtt:\n      auth: {basic: {file: users.htpasswd}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := c.L4[0].MQTT
	if c.L4[0].Mode != l4.ModeMQTT || m.MaxPacketSize != mqtt.DefaultMaxPacketSize || m.ConnectTimeout != mqtt.DefaultConnectTimeout {
		t.Errorf("mqtt defaults: %+v", m)
	}
	if want := filepath.Join("conf", "users.htpasswd"); m.Auth.Basic.File != want {
		t.Errorf("basic.file = %q, want %q (relative to the config file)", m.Auth.Basic.File, want)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"mqtt block on tcp", "    mqtt: {max_packet_size: 1024}\n", "t.yaml:7: l4[0].mqtt: only for mode: mqtt (this listener's mode is tcp)"},
		{"unknown mode", "    mode: amqp\n", `t.yaml:7: l4[0].mode: want tcp or mqtt, got "amqp"`},
		{"round robin (not written: the entry's line)", "    mode: mqtt\n",
			"t.yaml:4: l4[0].strategy: mode mqtt routes each client by its client id: use consistent_hash (or ip_hash), not round_robin"},
		{"max_packet_size", "    mode: mqtt\n    strategy: consistent_hash\n    mqtt:\n      max_packet_size: 300000000\n",
			"t.yaml:10: l4[0].mqtt.max_packet_size: must be between 64 and 268435455, got 300000000"},
		{"connect_timeout", "    mode: mqtt\n    strategy: consistent_hash\n    mqtt: {connect_timeout: 0s}\n",
			"t.yaml:9: l4[0].mqtt.connect_timeout: must be positive, got 0s"},
		{"empty auth", "    mode: mqtt\n    strategy: consistent_hash\n    mqtt:\n      auth: {}\n", "t.yaml:10: l4[0].mqtt.auth: needs basic or jwt"},
		{"api keys", "    mode: mqtt\n    strategy: consistent_hash\n    mqtt:\n      auth: {api_keys: {}}\n", "t.yaml:10: l4[0].mqtt.auth.api_keys: unknown key"},
		{"publish rate", "    mode: mqtt\n    strategy: consistent_hash\n    mqtt:\n      publish_rate: {rate: 0}\n",
			"t.yaml:10: l4[0].mqtt.publish_rate.rate: must be a positive number per second, got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse("t.yaml", []byte(head+tc.body)); err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}
