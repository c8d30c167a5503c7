package config

import (
	"slices"
	"testing"
)

func TestAccessLogQueryErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown query mode", "access_log:\n  query: hide\n" + minimal,
			`t.yaml:2: access_log.query: want redact, full or omit, got "hide"`},
		{"empty redact param", "access_log:\n  redact_params: [token, \" \"]\n" + minimal,
			`t.yaml:2: access_log.redact_params[1]: empty parameter name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error: %v\nwant: %s", err, tc.want)
			}
		})
	}
}

// Setting another key of access_log keeps the secure query defaults; a
// list given replaces the default one.
func TestAccessLogQueryDefaults(t *testing.T) {
	c := mustParse(t, "access_log: {path: stderr}\n"+minimal)
	if c.AccessLog.Query != QueryRedact || !slices.Contains(c.AccessLog.RedactParams, "access_token") {
		t.Fatalf("access_log = %+v, want query redact with the default parameters", c.AccessLog)
	}
	c = mustParse(t, "access_log: {query: full, redact_params: [otp]}\n"+minimal)
	if c.AccessLog.Query != QueryFull || !slices.Equal(c.AccessLog.RedactParams, []string{"otp"}) {
		t.Fatalf("access_log = %+v", c.AccessLog)
	}
}
