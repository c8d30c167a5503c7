package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// The level comes from --log-level, then DRAWBRIDGE_LOG_LEVEL, then the
// config file.
func TestLevelLoggerPrecedence(t *testing.T) {
	gw := newGatewayCmd()
	run, _, err := gw.Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	enabled := func(configLevel string, l slog.Level) bool {
		log, err := levelLogger(run, configLevel)
		if err != nil {
			t.Fatal(err)
		}
		return log.Enabled(context.Background(), l)
	}
	if enabled("warn", slog.LevelInfo) || !enabled("warn", slog.LevelWarn) {
		t.Error("config warn: info is logged or warn is not")
	}
	t.Setenv("DRAWBRIDGE_LOG_LEVEL", "debug")
	if !enabled("warn", slog.LevelDebug) {
		t.Error("the variable does not override the config")
	}
	if err := gw.PersistentFlags().Set("log-level", "error"); err != nil {
		t.Fatal(err)
	}
	if enabled("warn", slog.LevelWarn) || !enabled("warn", slog.LevelError) {
		t.Error("the flag does not override the variable")
	}
}

// A bad value is a usage error (exit 2) naming where it came from.
func TestBadLogLevelIsUsageError(t *testing.T) {
	_, err := run(t, "gateway", "proxy", "--to", "127.0.0.1:1", "--log-level", "loud")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), `--log-level: want debug, info, warn or error, got "loud"`) {
		t.Fatalf("exit %d: %v", exitCode(err), err)
	}
	t.Setenv("DRAWBRIDGE_LOG_LEVEL", "nope")
	_, err = run(t, "autoscaler", "run", "--once", "--config", "../../examples/autoscaler.yaml")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "DRAWBRIDGE_LOG_LEVEL: want") {
		t.Fatalf("exit %d: %v", exitCode(err), err)
	}
}
