package mqtt_test

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/mqtt"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

const jwtSecret = "0123456789abcdef0123456789abcdef" // HS256 needs 32 bytes

// authGateway is a gateway over one broker whose mqtt block checks basic
// users (alice/secret, mallory/secret, who is not in allow_subjects) and
// HS256 JWTs in the password.
func authGateway(t *testing.T) string {
	t.Helper()
	bs := startBrokers(t, 1)
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	_, addr := gateway(t, bs, nil, func(c *l4.Config) {
		var m mqtt.Config
		m.SetDefaults()
		m.Auth = &mqtt.AuthConfig{
			Basic:         &auth.BasicConfig{Users: map[string]string{"alice": string(hash), "mallory": string(hash)}},
			JWT:           &auth.JWTConfig{Algorithms: []string{"HS256"}, Secret: jwtSecret},
			AllowSubjects: []string{"alice", "device-7"},
		}
		c.MQTT = &m
	})
	return addr
}

func token(t *testing.T, sub string, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: sub, ExpiresAt: jwt.NewNumericDate(exp)}).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func creds(version byte, id, user, pass string) mqtt.Connect {
	return mqtt.Connect{Version: version, CleanStart: true, ClientID: id,
		Username: user, HasUsername: user != "", Password: []byte(pass), HasPassword: pass != ""}
}

// Each refusal is the version's CONNACK code followed by a close; each
// acceptance is the broker's own CONNACK.
func TestConnectAuthenticationAnswersWithTheVersionsConnackCode(t *testing.T) {
	addr := authGateway(t)
	good := token(t, "device-7", time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name string
		c    mqtt.Connect
		want []byte
	}{
		{"v5 wrong password", creds(mqtt.Version5, "a", "alice", "wrong"), []byte{0x20, 3, 0, 0x86, 0}},
		{"v311 wrong password", creds(mqtt.Version311, "b", "alice", "wrong"), []byte{0x20, 2, 0, 0x04}},
		{"v5 unknown user", creds(mqtt.Version5, "c", "eve", "secret"), []byte{0x20, 3, 0, 0x86, 0}},
		{"v5 no credentials", creds(mqtt.Version5, "d", "", ""), []byte{0x20, 3, 0, 0x87, 0}},
		{"v311 no credentials", creds(mqtt.Version311, "e", "", ""), []byte{0x20, 2, 0, 0x05}},
		{"v5 subject not allowed", creds(mqtt.Version5, "f", "mallory", "secret"), []byte{0x20, 3, 0, 0x87, 0}},
		{"v311 subject not allowed", creds(mqtt.Version311, "g", "mallory", "secret"), []byte{0x20, 2, 0, 0x05}},
		{"v5 expired JWT", creds(mqtt.Version5, "h", "any", token(t, "device-7", time.Now().Add(-time.Hour))), []byte{0x20, 3, 0, 0x86, 0}},
		{"v311 forged JWT", creds(mqtt.Version311, "i", "any", good[:len(good)-2]+"xx"), []byte{0x20, 2, 0, 0x04}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, got := rawConnect(t, addr, tc.c)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got % x, want % x", got, tc.want)
			}
			expectClosed(t, nc)
		})
	}
	for _, tc := range []struct {
		name string
		c    mqtt.Connect
	}{
		{"v5 basic", creds(mqtt.Version5, "ok1", "alice", "secret")},
		{"v311 basic", creds(mqtt.Version311, "ok2", "alice", "secret")},
		{"v311 JWT in the password", creds(mqtt.Version311, "ok3", "ignored", good)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := rawConnect(t, addr, tc.c)
			if len(got) < 4 || got[0] != 0x20 || got[3] != 0 {
				t.Fatalf("got % x, want the broker's CONNACK 0x00", got)
			}
		})
	}
}

// The same with Debian's mosquitto_pub as the client.
func TestMosquittoPubSeesBadCredentials(t *testing.T) {
	pub, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		t.Skip("mosquitto_pub not installed (apt-get install mosquitto-clients; .ci/run installs it)")
	}
	addr := authGateway(t)
	host, port, _ := net.SplitHostPort(addr)
	run := func(version, user, pass string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Patience)
		defer cancel()
		out, err := exec.CommandContext(ctx, pub, "-h", host, "-p", port, "-V", version,
			"-i", "pub-"+version, "-u", user, "-P", pass, "-t", "t", "-m", "hello").CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for _, tc := range []struct{ version, want string }{
		{"mqttv5", "bad user name or password"},
		{"mqttv311", "bad user name or password"},
	} {
		out, err := run(tc.version, "alice", "wrong")
		t.Logf("%s: %q (%v)", tc.version, out, err)
		if err == nil || !strings.Contains(strings.ToLower(out), tc.want) {
			t.Errorf("%s with a wrong password: %q (%v), want a failure saying %q", tc.version, out, err, tc.want)
		}
		if out, err := run(tc.version, "alice", "secret"); err != nil {
			t.Errorf("%s with the right password: %q (%v)", tc.version, out, err)
		}
	}
}
