package compress_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/compress"
)

func ExampleMiddleware() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"items":[`+strings.Repeat(`"x",`, 1000)+`"x"]}`)
	})
	srv := httptest.NewServer(compress.Middleware(compress.Config{}, app))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, _ := http.DefaultTransport.RoundTrip(req) // keep the encoding visible
	res.Body.Close()
	fmt.Println(res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	// Output: gzip Accept-Encoding
}
