// Package corpus holds the hostile requests the gateway's tests share:
// the request hygiene package's own tests and the end-to-end ones.
package corpus

// Smuggle holds requests whose framing is ambiguous or malformed.
// Each must be answered 400 (or the connection closed) and never reach the
// backend as a request.
var Smuggle = []struct{ Name, Raw string }{
	{"CL and TE", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE and CL", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"},
	{"differing CLs", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"},
	{"CL list", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 5\r\n\r\nabcde"},
	{"negative CL", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
	{"TE not chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"},
	{"TE chunked twice", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
	{"TE with space before colon", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
	{"TE obfuscated", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
	{"invalid chunk size", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
	{"chunk size overflow", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\nhello\r\n0\r\n\r\n"},
	{"obs-fold", "GET /a HTTP/1.1\r\nHost: x\r\nX-Folded: one\r\n two\r\n\r\n"},
	{"obs-fold on TE", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
	{"no Host", "GET /a HTTP/1.1\r\n\r\n"},
	{"two Hosts", "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
	{"bare LF in header value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"},
	{"NUL in header", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"},
	{"bad request line", "GET  /a HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"HTTP/1.1 with absolute garbage", "GET /a HTTP/9.9\r\nHost: x\r\n\r\n"},
}

// Spellings are requests for /admin or admin.test (denied to every
// loopback client) spelled otherwise, and controls that must pass. want
// 400 also accepts a reset stream over HTTP/2.
var Spellings = []struct {
	Target, Host string
	Want         int
}{
	{"/public", "x", 200},
	{"/public;v=1", "x", 200},
	{"/admin", "x", 403},
	{"/admin/", "x", 403},
	{"/admin;x", "x", 403},
	{"/admin;jsessionid=1/y", "x", 403},
	{"/admin%3Bx", "x", 403},
	{"/%61dmin", "x", 403},
	{"//admin", "x", 403},
	{"/./admin", "x", 403},
	{"/x/../admin", "x", 403},
	{"/x/%2e%2e/admin", "x", 403},
	{"/x/..;/admin", "x", 403},
	{"/x/.;y/../admin/z", "x", 403},
	{"/x/;y/../admin", "x", 403},
	{"/admin#x", "x", 400},
	{"/public#/../admin", "x", 400},
	{"/admin\\x", "x", 400},
	{"/x/..%5cadmin", "x", 400},
	{"/x/..%5Cadmin", "x", 400},
	{"/admin%00", "x", 400},
	{"/admin%0d%0aX: y", "x", 400},
	{"/adm%zzin", "x", 400},
	{"/caf\xc3\xa9", "x", 400},
	{"/public", "admin.test", 403},
	{"/public", "admin.test.", 403},
	{"/public", "ADMIN.Test", 403},
	{"/public", "Admin.Test.:8080", 403},
	{"/public", "admin.test:80", 403},
	{"/public", "admin.test..", 400},
	{"/public", ".admin.test", 400},
	{"/public", "evil@admin.test", 400},
	{"/public", "admin.test%2e", 400},
	{"/public", "admin.test:", 400},
	{"/public", "admin.test:99999999", 400},
	{"/public", "admin.test:8o", 400},
	{"/public", "[::1", 400},
	{"/public", "[fe80::1%25eth0]", 400},
	{"/public", "[::1]:8080", 200},
}
