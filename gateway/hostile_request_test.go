package gateway

import (
	"strings"
)

// withRouteKeys adds keys (one YAML line) to the route of a poolConfig.
func withRouteKeys(yaml, keys string) string {
	return strings.Replace(yaml, "    pool: p\n", "    pool: p\n    "+keys+"\n", 1)
}
