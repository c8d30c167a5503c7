// Package h1 is the gateway's own HTTP/1.1 server loop for plain client
// connections (server.engine: h1). net/http stays for HTTP/2 (h2c prior
// knowledge is handed to it), TLS and the admin listener.
//
// Why: a profile of one proxied GET through net/http (BenchmarkQuickProxyHop,
// Go 1.26) puts syscalls at ~40% of CPU and ~110 allocations per request
// in the process, of which net/http's server side costs the per-request
// context (context.WithCancel), textproto's header strings and map,
// readRequest's Request and URL, and a 4 KiB bufio reader and writer held
// by every connection, idle or not. This package removes those:
//
//   - one goroutine per connection at a time, no background reader, no
//     handoff of a request between goroutines;
//   - an idle connection holds no buffer and a minimal stack: once
//     nothing is pipelined the serving goroutine waits up to 20 ms for the
//     next request (a busy client's arrives well within it, and the stack
//     the pipeline grew serves it again: regrowing a fresh goroutine's
//     stack for every request cost 7% of the CPU under load); after that
//     the connection goes idle on a fresh goroutine (the serving one exits;
//     its stack could not shrink below 4 KiB while parked), which waits through
//     syscall.RawConn with a callback that takes a pooled 4 KiB buffer
//     only for its non-blocking read and gives it back on EAGAIN; a head
//     beyond 4 KiB moves to a MaxHeaderBytes buffer; the request context
//     is not cancellable (nothing could cancel it mid-request), which
//     saves a cancelCtx per connection;
//   - the head parses into a pooled http.Request whose Header map and
//     value slices are reused; strings never alias the buffer: a line
//     equal to the one at the same position of the previous request
//     parsed into that Request reuses its strings (keep-alive clients
//     repeat their heads), others cost one string per line; common header
//     names are interned;
//   - the response head and a body of up to 4 KiB leave in one writev
//     with a Content-Length; longer or flushed bodies stream chunked.
//
// Measured (Go 1.26, 2 shared cores): BenchmarkServerGET, the engine
// alone (8-field GET, 256-byte answer): 0 allocations per request against
// net/http's 24, ~30 µs against ~35-57 µs. In gateway/engine_bench_test.go:
// BenchmarkH1ProxyGET (GET with 8 fields, 256-byte body, one keep-alive
// connection, allocation-free client and backend) makes no allocation
// per request under h1 (a generated traceparent's block is shared by 64
// requests: 76 B/op; TestProxiedGETAllocations holds it), against 29
// under net/http (41 and 14 before proxy, pool and trace stopped
// allocating per request); process CPU
// per request about 15% lower; wall time per request is latency-bound
// and within noise of net/http's. TestIdleConnMemory: 3.3 KiB per idle
// keep-alive connection at 10,000 connections (1.3 KiB heap, 2 KiB
// stack) against 19.4 KiB under net/http. Syscalls per proxied request
// (strace -c -f on the gateway process alone, 20,000 keep-alive GETs to an
// nginx backend): h1 10.0 I/O and poll calls (read 2.4, write 1.3,
// writev 1.0, epoll 4.2, the backend pool's idle peek 1.0) and 4.1 of the
// scheduler's; net/http 11.4 and 7.2; nginx proxying alike 7.0 and none
// (writev 2, recvfrom 2, epoll_wait 2, getsockopt 1).
//
// The parser refuses at least what net/http plus the framing guard
// (gateway/hygiene) refuse: obs-fold, any line not ending in CRLF, bare
// CR, invalid names and values, repeated or invalid Content-Length,
// Content-Length with Transfer-Encoding, Transfer-Encoding other than one
// "chunked" or in HTTP/1.0, missing or repeated Host in HTTP/1.1, heads
// over MaxHeaderBytes or MaxHeaders fields. FuzzDifferential checks that
// whatever it accepts net/http accepts alike.
//
// Differences from net/http a handler may notice: the Request, its
// Header and URL are reused once ServeHTTP returns (handlers must not keep
// them; copies such as Clone are safe); the request context is never
// cancelled, since with no background read a client's disconnect
// mid-request shows only as a failed write, or to a handler that asks
// the ResponseWriter's ClientGone (a non-blocking peek: the proxy does so
// every second while it waits on a backend, and abandons the backend
// request; on platforms other than Linux it cannot tell, and the
// timeouts bound the wait); a body the handler did not read to
// its end closes the connection after the response (net/http discards up
// to 256 KiB first); request trailers are read and dropped.
package h1
