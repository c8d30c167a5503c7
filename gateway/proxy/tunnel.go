package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
)

// tunnel completes a protocol switch (WebSocket and any other HTTP/1.1
// Upgrade): it takes over the client connection, sends it the backend's
// 101, and copies bytes both ways until either side closes. The tunnel is
// tied to its backend connection, not to a configuration generation: a
// reload leaves it alone unless OnTunnel's owner closes it.
func (u *Upstream) tunnel(w http.ResponseWriter, c *conn, resp *responseHead, a *Attempt) Result {
	client, cbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		c.close()
		return Result{Kind: ErrProtocol, Err: err}
	}
	head := cbuf.Writer
	_, _ = head.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = w.Header().Write(head)
	_, _ = head.WriteString("Connection: Upgrade\r\nUpgrade: " + resp.upgrade + "\r\n\r\n")
	if err := head.Flush(); err != nil {
		_ = client.Close()
		c.close()
		return Result{Status: http.StatusSwitchingProtocols, HeadersSent: true, Kind: ErrClientGone, Err: err}
	}
	done := func() {}
	closer := closeBoth{client, c.nc}
	if a.OnTunnel != nil {
		done = a.OnTunnel(closer)
	}
	defer done()

	var n int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // client -> backend, starting with what the server had buffered
		defer wg.Done()
		_, _ = io.Copy(c.nc, io.MultiReader(bufferedOnly(cbuf.Reader), client))
		halfClose(c.nc)
	}()
	go func() { // backend -> client, starting with what we had buffered
		defer wg.Done()
		n, _ = io.Copy(client, io.MultiReader(bufferedOnly(c.br), c.nc))
		halfClose(client)
	}()
	wg.Wait()
	_ = client.Close()
	c.close()
	return Result{Status: http.StatusSwitchingProtocols, HeadersSent: true, Upgraded: true, BytesOut: n}
}

// bufferedOnly yields the bytes already in br and then EOF, so the rest is
// read from the socket directly (letting io.Copy use splice).
func bufferedOnly(br *bufio.Reader) io.Reader {
	if br == nil || br.Buffered() == 0 {
		return eofReader{}
	}
	b, _ := br.Peek(br.Buffered())
	return &onceReader{b: b}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type onceReader struct{ b []byte }

func (o *onceReader) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, o.b)
	o.b = o.b[n:]
	return n, nil
}

// halfClose signals the end of one direction where the transport allows,
// so protocols that rely on half-close keep working; otherwise it closes.
func halfClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		return
	}
	_ = c.Close()
}

// closeBoth ends a tunnel from outside (its backend left the pool).
type closeBoth struct{ a, b net.Conn }

func (c closeBoth) Close() error {
	_ = c.a.Close()
	return c.b.Close()
}
