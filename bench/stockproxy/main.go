// Command stockproxy is the stock-Go baseline target of bench/proxy.sh: a
// plain net/http/httputil.ReverseProxy that round-robins over a fixed list of
// backends, with only the transport tuning a careful user would apply anyway
// (keep-alive pool sized for the benchmark's 64 client connections, no HTTP/2
// attempt, no transparent gzip). It exists so the benchmark report can show
// what "just use the standard library" gets you beside nginx, haproxy and the
// drawbridge gateway. Run it with GOMAXPROCS=1 for a one-core comparison.
//
//	stockproxy --listen 127.0.0.1:8080 --to 127.0.0.1:9001,127.0.0.1:9002
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	to := flag.String("to", "", "comma-separated backend host:port list (required)")
	flag.Parse()

	var targets []*url.URL
	for _, hp := range strings.Split(*to, ",") {
		hp = strings.TrimSpace(hp)
		if hp == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(hp); err != nil {
			log.Fatalf("stockproxy: bad backend %q: %v", hp, err)
		}
		targets = append(targets, &url.URL{Scheme: "http", Host: hp})
	}
	if len(targets) == 0 {
		log.Fatal("stockproxy: --to needs at least one host:port")
	}

	transport := &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}

	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := targets[(next.Add(1)-1)%uint64(len(targets))]
			pr.SetURL(t)
		},
		Transport: transport,
		ErrorLog:  log.New(os.Stderr, "stockproxy: ", log.LstdFlags),
	}

	srv := &http.Server{
		Addr:              *listen,
		Handler:           proxy,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("stockproxy: listening on %s, %d backends", *listen, len(targets))
	log.Fatal(srv.ListenAndServe())
}
