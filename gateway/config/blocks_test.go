package config

import (
	"strings"
	"testing"
)

// The blocks feature packages own are validated by them, once, at load:
// their errors keep the file's line and the full key, and what the runtime
// accepts is what the file may say.
func TestFeatureBlocksAtLoad(t *testing.T) {
	key := "{a: " + strings.Repeat("0", 64) + "}"
	for _, tc := range []struct{ name, body, want string }{
		{"gzip level above 9", "    compress: {level: 10}\n", "t.yaml:4: routes[0].compress.level: must be between -2 and 9, got 10"},
		{"gzip level below -2", "    compress:\n      level: -3\n", "t.yaml:5: routes[0].compress.level: must be between -2 and 9, got -3"},
		{"idle ttl shorter than the refill", "    rate_limit: {rate: 1, burst: 60, idle_ttl: 30s}\n",
			"t.yaml:4: routes[0].rate_limit.idle_ttl: 30s is shorter than the refill time burst/rate = 1m0s"},
		{"rate limit key", "    rate_limit: {rate: 1, key: \"header:a b\"}\n", `t.yaml:4: routes[0].rate_limit.key: want ip, identity, route or header:NAME, got "header:a b"`},
		{"realm with a quote", "    auth:\n      api_keys: {keys: " + key + "}\n      realm: 'a\"b'\n", `t.yaml:6: routes[0].auth.realm: "a\"b": no quotes, backslashes or control characters`},
		{"retry method", "    retry:\n      methods: [get]\n", `t.yaml:5: routes[0].retry.methods[0]: invalid method "get" (upper-case HTTP method)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "routes:\n  - name: r\n    pool: p\n" + tc.body + "pools:\n  - name: p\n    backends: [{address: \"127.0.0.1:1\"}]\n"
			if _, err := Parse("t.yaml", []byte(doc)); err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	doc := "routes:\n  - name: s\n    static: {root: www, index: [a/b.html]}\npools: [{name: p, backends: [{address: \"127.0.0.1:1\"}]}]\n"
	if _, err := Parse("t.yaml", []byte(doc)); err == nil || err.Error() != `t.yaml:3: routes[0].static.index[0]: "a/b.html" must be a plain file name` {
		t.Errorf("static index: %v", err)
	}
}

func TestFeatureBlocksAccepted(t *testing.T) {
	doc := "routes:\n  - name: r\n    pool: p\n    compress: {level: -2}\n    rate_limit: {rate: 5}\npools:\n  - name: p\n    backends: [{address: \"127.0.0.1:1\"}]\n"
	c, err := Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Routes[0]; r.Compress.Level != -2 || r.RateLimit.Burst != 5 || r.RateLimit.Key != "ip" {
		t.Errorf("compress %+v, rate limit %+v; want Huffman-only level -2, burst max(1, rate) = 5, key ip", r.Compress, r.RateLimit)
	}
}
