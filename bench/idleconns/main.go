// Command idleconns is the client of bench/idleconns.sh: it opens N
// keep-alive connections to a proxy, sends one GET on each and reads the
// answer, then holds them all open and idle so the script can read the
// proxy's memory. It prints one JSON line when every connection has had its
// answer (or failed), and exits on SIGTERM/SIGINT.
//
// Above ~25,000 connections one source address runs out of local ports
// toward one destination, so connections are spread over --sources source
// IPs 127.0.0.1, 127.0.0.2, ... (all of 127/8 is loopback on Linux).
//
//	idleconns --addr 127.0.0.1:8080 -n 10000
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/drawbridge-dev/drawbridge/bench/internal/h1"
)

func main() {
	addr := flag.String("addr", "", "host:port of the proxy (required)")
	path := flag.String("path", "/", "request path")
	n := flag.Int("n", 10000, "connections")
	sources := flag.Int("sources", 0, "source IPs 127.0.0.1..127.0.0.K to spread over (0: one per 20000 connections)")
	par := flag.Int("parallel", 64, "connections being opened at once")
	flag.Parse()
	if *addr == "" || *n < 1 || *par < 1 {
		fmt.Fprintln(os.Stderr, "idleconns: need --addr, -n >= 1, --parallel >= 1")
		os.Exit(2)
	}
	if *sources < 1 {
		*sources = (*n + 19999) / 20000
	}

	conns := make([]*h1.Conn, *n)
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < *par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				src := ""
				if *sources > 1 {
					src = fmt.Sprintf("127.0.0.%d", 1+i%*sources)
				}
				c := h1.New(*addr, *path, false, src)
				err := c.Get()
				if err == nil && c.Status >= 400 {
					err = fmt.Errorf("HTTP %d", c.Status)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					c.Close()
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	out := map[string]any{
		"requested": *n,
		"open":      int64(*n) - failed.Load(),
		"failed":    failed.Load(),
		"sources":   *sources,
		"open_s":    time.Since(t0).Seconds(),
	}
	if e, ok := firstErr.Load().(string); ok {
		out["first_error"] = e
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}

	// Hold the connections idle until told to stop.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
