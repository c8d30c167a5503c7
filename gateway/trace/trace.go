// Package trace carries W3C trace context through the gateway: a valid
// traceparent passes on unchanged, a missing or malformed one is replaced.
package trace

import (
	"math/rand/v2"
	"net/http"
)

const hexDigits = "0123456789abcdef"

// EnsureTraceparent passes a valid W3C traceparent on unchanged, or starts
// a new trace when it is absent or malformed. It returns the trace id.
func EnsureTraceparent(r *http.Request) string {
	if vv := r.Header["Traceparent"]; len(vv) == 1 && ValidTraceparent(vv[0]) {
		return vv[0][3:35]
	}
	var buf [55]byte
	copy(buf[:], "00-")
	putHex(buf[3:19], rand.Uint64())
	putHex(buf[19:35], rand.Uint64()|1) // never the all-zero invalid id
	buf[35] = '-'
	putHex(buf[36:52], rand.Uint64()|1)
	copy(buf[52:], "-01")
	tp := string(buf[:])
	r.Header["Traceparent"] = []string{tp}
	// tracestate belongs to the trace it came with, which we replaced.
	delete(r.Header, "Tracestate")
	return tp[3:35]
}

func putHex(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// ValidTraceparent checks the version-00 layout
// "vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"; future versions
// may append fields after the flags.
func ValidTraceparent(s string) bool {
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	if s[:2] == "ff" || (s[:2] == "00" && len(s) != 55) || (len(s) > 55 && s[55] != '-') {
		return false
	}
	return lowerHex(s[:2]) && lowerHex(s[3:35]) && lowerHex(s[36:52]) && lowerHex(s[53:55]) &&
		!allZero(s[3:35]) && !allZero(s[36:52])
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
