package static_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/drawbridge-dev/drawbridge/gateway/static"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "site")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>hi</h1>"), 0o644)

	h, err := static.New(static.Config{Root: dir, Precompressed: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()
	// Mount under a prefix: the handler sees the path below it.
	srv := httptest.NewServer(http.StripPrefix("/site", h))
	defer srv.Close()

	res, _ := http.Get(srv.URL + "/site/")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"), string(body))
	// Output: 200 text/html; charset=utf-8 <h1>hi</h1>
}
