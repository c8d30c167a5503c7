package trace

import (
	"net/http"
	"sync"
	"testing"
)

// Generated traceparents are valid, distinct, stay what they were when
// later ones are made, and a Header that appends to one moves out of the
// shared block.
func TestGeneratedTraceparents(t *testing.T) {
	const workers, each = 4, 3 * tpPerArena
	got := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				r := &http.Request{Header: http.Header{"Tracestate": {"a=b"}}}
				id := EnsureTraceparent(r)
				vv := r.Header["Traceparent"]
				if len(vv) != 1 || cap(vv) != 1 || !ValidTraceparent(vv[0]) || vv[0][3:35] != id {
					t.Errorf("traceparent %q, id %q", vv, id)
					return
				}
				if _, ok := r.Header["Tracestate"]; ok {
					t.Error("the replaced trace's tracestate was kept")
				}
				r.Header.Add("Traceparent", "appended")
				got[w] = append(got[w], vv[0])
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, tps := range got {
		for _, tp := range tps {
			if seen[tp] || !ValidTraceparent(tp) {
				t.Fatalf("traceparent %q repeated or overwritten", tp)
			}
			seen[tp] = true
		}
	}
	if len(seen) != workers*each {
		t.Fatalf("%d traceparents, want %d", len(seen), workers*each)
	}
	// A valid one passes on unchanged.
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	r := &http.Request{Header: http.Header{"Traceparent": {tp}}}
	if id := EnsureTraceparent(r); id != tp[3:35] || r.Header.Get("Traceparent") != tp {
		t.Fatalf("valid traceparent: id %q, header %q", id, r.Header.Get("Traceparent"))
	}
}

func TestGeneratedTraceparentAllocations(t *testing.T) {
	r := &http.Request{Header: http.Header{}}
	if n := testing.AllocsPerRun(1000, func() { EnsureTraceparent(r) }); n > 0.1 {
		t.Fatalf("%.2f allocations per generated traceparent", n)
	}
}
