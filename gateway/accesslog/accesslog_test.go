package accesslog

import "testing"

func TestRedactQuery(t *testing.T) {
	secret := map[string]bool{"token": true, "sig": true}
	for raw, want := range map[string]string{
		"":                     "",
		"a=1":                  "a=1",
		"token=x":              "token=REDACTED",
		"TOKEN=x&a=token":      "TOKEN=REDACTED&a=token",
		"token":                "token",
		"token=":               "token=REDACTED",
		"a=1;%53ig=x&&b":       "a=1;%53ig=REDACTED&&b",
		"tok%zzen=x&token=a=b": "tok%zzen=x&token=REDACTED",
		"+token=x&token+=y":    "+token=REDACTED&token+=REDACTED",
	} {
		if got := redactQuery(raw, secret); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", raw, got, want)
		}
	}
}
