package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

// openAccessLog returns the JSON access logger for c (nil when disabled) and
// what to close when the configuration is replaced.
func (g *Gateway) openAccessLog(c config.AccessLog) (*slog.Logger, io.Closer, error) {
	if !c.Enabled {
		return nil, nil, nil
	}
	var w io.Writer
	var closer io.Closer
	switch {
	case g.opts.AccessLogWriter != nil:
		w = g.opts.AccessLogWriter
	case c.Path == "" || c.Path == "stdout":
		w = os.Stdout
	case c.Path == "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(c.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("access_log.path: %w", err)
		}
		w, closer = f, f
	}
	return slog.New(slog.NewJSONHandler(w, nil)), closer, nil
}
