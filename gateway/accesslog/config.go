// Package accesslog is the gateway's per-request JSON log: its config
// block, the redaction of query strings, and the meters that count what
// crossed the client connection.
package accesslog

import (
	"fmt"
	"strings"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config is the access_log block of the gateway's file; the comments on
// its fields are that reference's text.
type Config struct {
	Enabled bool   `yaml:"enabled"` // default true
	Path    string `yaml:"path"`    // "stdout" (default), "stderr" or a file path
	// Query is how a request's query string is logged: redact (default)
	// logs it with the values of redact_params replaced by REDACTED; full
	// logs it as sent (credentials in URLs then reach the log); omit
	// leaves it out.
	Query string `yaml:"query"`
	// RedactParams are the query parameters whose values are redacted,
	// matched by name without regard to case; a list given here replaces
	// the default one.
	RedactParams []string `yaml:"redact_params"`
}

// Query modes.
const (
	QueryRedact = "redact"
	QueryFull   = "full"
	QueryOmit   = "omit"
)

// DefaultRedactParams are the query parameters that commonly carry
// credentials (OAuth codes and tokens, API keys, signed-URL signatures,
// session ids).
func DefaultRedactParams() []string {
	return []string{"token", "access_token", "refresh_token", "id_token", "api_key", "apikey", "key",
		"password", "passwd", "secret", "client_secret", "signature", "sig", "x-amz-signature",
		"x-amz-credential", "x-amz-security-token", "code", "auth", "authorization", "session", "sessionid", "jwt"}
}

// Validate reports the problems of c by key relative to the block.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if c.Enabled && c.Path == "" {
		v.Add("path", "required when access_log is enabled")
	}
	switch c.Query {
	case QueryRedact, QueryFull, QueryOmit:
	default:
		v.Add("query", "want redact, full or omit, got %q", c.Query)
	}
	for i, p := range c.RedactParams {
		if strings.TrimSpace(p) == "" {
			v.Add(fmt.Sprintf("redact_params[%d]", i), "empty parameter name")
		}
	}
	return v.Errs
}
