package accesslog

import (
	"io"
	"net/http"
	"sync/atomic"
)

// ResponseMeter counts the response body bytes written to the client.
type ResponseMeter struct {
	http.ResponseWriter
	N int64
}

func (m *ResponseMeter) Write(p []byte) (int, error) {
	n, err := m.ResponseWriter.Write(p)
	m.N += int64(n)
	return n, err
}

// ReadFrom keeps the server's sendfile path for static files.
func (m *ResponseMeter) ReadFrom(src io.Reader) (int64, error) {
	var n int64
	var err error
	if rf, ok := m.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{m.ResponseWriter}, src)
	}
	m.N += n
	return n, err
}

func (m *ResponseMeter) Flush() {
	if f, ok := m.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (hijack for
// upgrades, read and write deadlines).
func (m *ResponseMeter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// BodyMeter counts the request body bytes the gateway read.
type BodyMeter struct {
	io.ReadCloser
	n atomic.Int64
}

func (m *BodyMeter) Read(p []byte) (int, error) {
	n, err := m.ReadCloser.Read(p)
	m.n.Add(int64(n))
	return n, err
}

// Count is the bytes read so far; 0 for a nil meter (no body).
func (m *BodyMeter) Count() int64 {
	if m == nil {
		return 0
	}
	return m.n.Load()
}
