package auth

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/drawbridge-dev/drawbridge/clock"
)

func TestCheckCredentials(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	secret := "0123456789abcdef0123456789abcdef"
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	a, err := New(Config{
		Basic:         &BasicConfig{Users: map[string]string{"alice": string(hash), "bob": string(hash)}},
		JWT:           &JWTConfig{Algorithms: []string{"HS256"}, Secret: secret},
		AllowSubjects: []string{"alice", "dev-1"},
	}, clk)
	if err != nil {
		t.Fatal(err)
	}
	tok := func(sub string, exp time.Duration) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: sub, ExpiresAt: jwt.NewNumericDate(clk.Now().Add(exp))}).SignedString([]byte(secret))
		return s
	}
	for _, tc := range []struct {
		user, pass string
		status     int // 0: accepted
		subject    string
	}{
		{"alice", "pw", 0, "alice"},
		{"alice", "pw", 0, "alice"}, // from the cache
		{"alice", "nope", http.StatusUnauthorized, ""},
		{"eve", "pw", http.StatusUnauthorized, ""},
		{"bob", "pw", http.StatusForbidden, ""},
		{"whoever", tok("dev-1", time.Hour), 0, "dev-1"},
		{"whoever", tok("dev-1", -time.Hour), http.StatusUnauthorized, ""},
		{"whoever", tok("dev-2", time.Hour), http.StatusForbidden, ""},
	} {
		id, err := a.CheckCredentials(tc.user, tc.pass)
		var ae *Error
		switch {
		case tc.status == 0 && (err != nil || id.Subject != tc.subject):
			t.Errorf("%s/%.10s: %v %+v, want %s", tc.user, tc.pass, err, id, tc.subject)
		case tc.status != 0 && (!errors.As(err, &ae) || ae.Status != tc.status):
			t.Errorf("%s/%.10s: %v, want status %d", tc.user, tc.pass, err, tc.status)
		}
	}
}
