package auth_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/auth"
)

// The gateway builds one Authenticator per route and runs it before the
// rate limiter (so "identity" keys work) and the proxy.
func Example() {
	a, err := auth.New(auth.Config{
		APIKeys:          &auth.APIKeyConfig{Keys: map[string]string{"billing": auth.HashKey("s3cret")}},
		StripCredentials: true,
	}, clock.Real{})
	if err != nil {
		panic(err)
	}
	for _, key := range []string{"s3cret", "wrong"} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-API-Key", key)
		if id, err := a.Authenticate(rec, r); err == nil {
			fmt.Println("forward as", r.Header.Get("X-Auth-Subject"), "via", id.Method, "key stripped:", r.Header.Get("X-API-Key") == "")
			continue
		}
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// forward as billing via api_key key stripped: true
	// 401 APIKey realm="drawbridge", header="X-Api-Key"
}
