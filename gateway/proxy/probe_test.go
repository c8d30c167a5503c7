package proxy

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// probedWriter is a client whose context never ends: it answers
// ClientGone with gone, counts the questions and closes asked (when set)
// at the third.
type probedWriter struct {
	*httptest.ResponseRecorder
	gone   atomic.Bool
	probes atomic.Int32
	asked  chan struct{}
}

func (w *probedWriter) ClientGone() bool {
	if w.probes.Add(1) == 3 && w.asked != nil {
		close(w.asked)
	}
	return w.gone.Load()
}

// unwrapper hides the probe behind a wrapper, as the gateway's meters do.
type unwrapper struct{ http.ResponseWriter }

func (u unwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }

func withProbeInterval(t *testing.T, d time.Duration) {
	old := clientProbeInterval
	clientProbeInterval = d
	t.Cleanup(func() { clientProbeInterval = old })
}

// While a backend works, a client that is still there is asked about and
// gets its answer; one that left ends the wait, and the backend's request.
func TestBackendWaitLooksAtTheClient(t *testing.T) {
	withProbeInterval(t, 5*time.Millisecond)
	asked, release := make(chan struct{}), make(chan struct{})
	backendDone := make(chan bool, 1) // true: its request was cancelled
	be := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// /stay answers once the proxy has looked at the client a few
		// times; any request may see its end first.
		answer := release
		if r.URL.Path == "/stay" {
			answer = asked
		}
		select {
		case <-r.Context().Done():
			backendDone <- true
		case <-answer:
			backendDone <- false
			_, _ = rw.Write([]byte("late"))
		}
	}))
	defer be.Close()
	defer close(release)
	u := NewUpstream(be.Listener.Addr().String(), Options{ResponseHeaderTimeout: time.Hour})
	defer u.Close()

	w := &probedWriter{ResponseRecorder: httptest.NewRecorder(), asked: asked}
	res := u.Forward(unwrapper{w}, httptest.NewRequest("GET", "/", nil), &Attempt{URI: "/stay"})
	if res.Err != nil || res.Status != 200 || w.Body.String() != "late" || <-backendDone {
		t.Fatalf("client still there: %+v, body %q", res, w.Body.String())
	}

	w = &probedWriter{ResponseRecorder: httptest.NewRecorder()}
	w.gone.Store(true)
	res = u.Forward(w, httptest.NewRequest("GET", "/", nil), &Attempt{URI: "/gone"})
	if res.Kind != ErrClientGone || res.HeadersSent {
		t.Fatalf("client gone: %+v", res)
	}
	if cancelled := <-backendDone; !cancelled {
		t.Fatal("the backend answered a client that was gone")
	}
}

// The response_header timeout still bounds a wait sliced by the probes.
func TestBackendWaitKeepsHeaderTimeout(t *testing.T) {
	withProbeInterval(t, 5*time.Millisecond)
	release := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer be.Close()
	defer close(release)
	u := NewUpstream(be.Listener.Addr().String(), Options{ResponseHeaderTimeout: 200 * time.Millisecond})
	defer u.Close()
	w := &probedWriter{ResponseRecorder: httptest.NewRecorder()}
	res := u.Forward(w, httptest.NewRequest("GET", "/", nil), &Attempt{URI: "/"})
	if res.Kind != ErrTimeout {
		t.Fatalf("slow backend: %+v after %d probes", res, w.probes.Load())
	}
}
