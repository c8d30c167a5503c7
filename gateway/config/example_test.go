package config_test

import (
	"fmt"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

func ExampleParse() {
	_, err := config.Parse("gateway.yaml", []byte(`
routes:
  - name: api
    matcch: {path_prefix: /api}
    pool: api
pools:
  - name: api
    health_check:
      interval: 5
    backends:
      - address: 10.0.0.1
`))
	fmt.Println(err)
	// Output:
	// gateway.yaml:4: routes[0].matcch: unknown key
	// gateway.yaml:9: pools[0].health_check.interval: expected a duration like "5s" or "1m30s", got "5"
}

func ExampleDefault() {
	c, err := config.Default([]string{"127.0.0.1:9001", "127.0.0.1:9002"})
	if err != nil {
		panic(err)
	}
	p := c.Pools[0]
	fmt.Println(c.Listen, c.Routes[0].Match.PathPrefix, "->", p.Name, p.Strategy, len(p.Backends))
	// Output:
	// :8080 / -> default round_robin 2
}
