package telemetry

import (
	"log/slog"
	"testing"
)

func TestResolveLevelPrecedence(t *testing.T) {
	for _, tc := range []struct {
		flag, env, config string
		want              slog.Level
		err               string
	}{
		{"", "", "", slog.LevelInfo, ""},
		{"", "", "warn", slog.LevelWarn, ""},
		{"", "ERROR", "warn", slog.LevelError, ""},
		{"debug", "error", "warn", slog.LevelDebug, ""},
		{"", "", "Warning", slog.LevelWarn, ""},
		{"loud", "error", "", 0, `--log-level: want debug, info, warn or error, got "loud"`},
		{"", "nope", "info", 0, `DRAWBRIDGE_LOG_LEVEL: want debug, info, warn or error, got "nope"`},
		{"", "", "trace", 0, `log.level: want debug, info, warn or error, got "trace"`},
		// A valid flag wins over a bad variable: the variable is not read.
		{"info", "nope", "", slog.LevelInfo, ""},
	} {
		got, err := ResolveLevel(tc.flag, tc.env, tc.config)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ResolveLevel(%q, %q, %q) error %v, want %s", tc.flag, tc.env, tc.config, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolveLevel(%q, %q, %q) = %v, %v; want %v", tc.flag, tc.env, tc.config, got, err, tc.want)
		}
	}
}
