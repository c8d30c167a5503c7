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
//   - one goroutine per connection, no background reader, no handoff;
//   - an idle connection holds no buffer: it waits for readability
//     through syscall.RawConn with a MSG_PEEK callback, and takes a pooled
//     4 KiB buffer (MaxHeaderBytes for large heads) only while a request
//     is in flight;
//   - the head parses into a pooled http.Request whose Header map and
//     value slices are reused; strings never alias the buffer: a line
//     equal to the one at the same position of the previous request
//     parsed into that Request reuses its strings (keep-alive clients
//     repeat their heads), others cost one string per line; common header
//     names are interned;
//   - the response head and a body of up to 4 KiB leave in one writev
//     with a Content-Length; longer or flushed bodies stream chunked.
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
// them; copies such as Clone are safe); the request context is the
// connection's and ends when the connection does, not when the client
// goes away mid-request (there is no background read), so a client's
// disconnect shows as a failed write; a body the handler did not read to
// its end closes the connection after the response (net/http discards up
// to 256 KiB first); request trailers are read and dropped.
package h1
