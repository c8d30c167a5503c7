package acme

import (
	"context"
	"log/slog"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapToSlog routes the library's zap log into the gateway's slog log. Its
// info messages (locks taken, orders placed) go to debug: what an operator
// needs is logged by Manager.event at info and error.
func zapToSlog(l *slog.Logger) *zap.Logger { return zap.New(slogCore{l: l}) }

type slogCore struct {
	l      *slog.Logger
	fields []zapcore.Field
}

func level(l zapcore.Level) slog.Level {
	switch {
	case l >= zapcore.ErrorLevel:
		return slog.LevelError
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

func (c slogCore) Enabled(l zapcore.Level) bool {
	return c.l.Enabled(context.Background(), level(l))
}

func (c slogCore) With(f []zapcore.Field) zapcore.Core {
	return slogCore{l: c.l, fields: append(slices.Clip(c.fields), f...)}
}

func (c slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slogCore) Write(e zapcore.Entry, f []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, x := range append(slices.Clip(c.fields), f...) {
		x.AddTo(enc)
	}
	attrs := make([]any, 0, 2*len(enc.Fields))
	for k, v := range enc.Fields {
		attrs = append(attrs, k, v)
	}
	c.l.Log(context.Background(), level(e.Level), "acme: "+e.LoggerName+": "+e.Message, attrs...)
	return nil
}

func (slogCore) Sync() error { return nil }
