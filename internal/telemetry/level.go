package telemetry

import (
	"fmt"
	"log/slog"
	"strings"
)

// LevelEnv is the environment variable that sets the log level of the
// gateway and the autoscaler, over their config files and under
// --log-level.
const LevelEnv = "DRAWBRIDGE_LOG_LEVEL"

// ParseLevel reads debug, info, warn (or warning) and error, in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("want debug, info, warn or error, got %q", s)
}

// ResolveLevel picks the log level: the flag when given, else the
// environment variable when set, else the config file's value, else info.
// An invalid value is an error that names where it came from, even when a
// source of lower precedence is valid.
func ResolveLevel(flag, env, config string) (slog.Level, error) {
	for _, src := range []struct{ name, value string }{
		{"--log-level", flag},
		{LevelEnv, env},
		{"log.level", config},
	} {
		if src.value == "" {
			continue
		}
		l, err := ParseLevel(src.value)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", src.name, err)
		}
		return l, nil
	}
	return slog.LevelInfo, nil
}
