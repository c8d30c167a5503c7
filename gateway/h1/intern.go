package h1

import "net/http"

// lineCache turns head lines into strings without aliasing the read
// buffer, and without allocating when a line is the one seen at the same
// position in the previous request parsed with it: keep-alive clients
// repeat most of their head (Host, User-Agent, Accept, cookies), and an
// immutable string from an earlier request is safe to hand out again,
// whatever retains it (access log, cache keys, mirrored copies).
type lineCache struct {
	reqLine, method, uri string
	fields               []cachedField
	bytes                int // what fields hold, bounded by maxCached
}

type cachedField struct{ raw, key, val string }

// maxCached bounds the bytes the cache retains between requests.
const maxCached = 16 << 10

func (c *lineCache) requestLine(line []byte, sp1, sp2 int) (method, uri string) {
	if string(line) == c.reqLine {
		return c.method, c.uri
	}
	raw := string(line)
	method, uri = raw[:sp1], raw[sp1+1:sp2]
	if m, ok := methods[method]; ok {
		method = m
	}
	c.reqLine, c.method, c.uri = raw, method, uri
	return method, uri
}

// field returns line's canonical name and its value (blanks around it
// trimmed); i is the line's index among the head's fields.
func (c *lineCache) field(i int, line []byte, colon int, scratch *[]byte) (key, val string, err *Error) {
	if i < len(c.fields) && c.fields[i].raw == string(line) {
		return c.fields[i].key, c.fields[i].val, nil
	}
	name := line[:colon]
	canonical := true
	upper := true
	for _, b := range name {
		if !tokenByte[b] {
			return "", "", errFieldName
		}
		if upper && 'a' <= b && b <= 'z' || !upper && 'A' <= b && b <= 'Z' {
			canonical = false
		}
		upper = b == '-'
	}
	v0, v1 := colon+1, len(line)
	for v0 < v1 && (line[v0] == ' ' || line[v0] == '\t') {
		v0++
	}
	for v1 > v0 && (line[v1-1] == ' ' || line[v1-1] == '\t') {
		v1--
	}
	for _, b := range line[v0:v1] {
		if b < ' ' && b != '\t' || b == 0x7f {
			return "", "", errFieldValue
		}
	}
	if !canonical {
		k := append((*scratch)[:0], name...)
		upper = true
		for j, b := range k {
			if upper && 'a' <= b && b <= 'z' {
				k[j] = b - 'a' + 'A'
			} else if !upper && 'A' <= b && b <= 'Z' {
				k[j] = b + 'a' - 'A'
			}
			upper = b == '-'
		}
		*scratch = k
		name = k
	}
	raw := string(line)
	if k, ok := commonKeys[string(name)]; ok {
		key = k
	} else if canonical {
		key = raw[:colon]
	} else {
		key = string(name)
	}
	val = raw[v0:v1]
	if i < len(c.fields) {
		c.bytes += len(raw) - len(c.fields[i].raw)
		c.fields[i] = cachedField{raw, key, val}
	} else if i == len(c.fields) && c.bytes+len(raw) <= maxCached {
		c.bytes += len(raw)
		c.fields = append(c.fields, cachedField{raw, key, val})
	}
	return key, val, nil
}

var methods = map[string]string{}

// commonKeys interns the canonical names of the headers most requests
// carry, so their keys are shared, never allocated.
var commonKeys = map[string]string{}

func init() {
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace} {
		methods[m] = m
	}
	for _, k := range []string{"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Language", "Content-Length",
		"Content-Type", "Cookie", "Date", "Dnt", "Etag", "Expect", "Forwarded", "From", "Host", "If-Match",
		"If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive", "Origin", "Pragma",
		"Priority", "Range", "Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest",
		"Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Sec-Websocket-Extensions", "Sec-Websocket-Key",
		"Sec-Websocket-Protocol", "Sec-Websocket-Version", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Upgrade-Insecure-Requests", "User-Agent", "Via", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id", "Traceparent", "Tracestate"} {
		commonKeys[k] = k
	}
}
