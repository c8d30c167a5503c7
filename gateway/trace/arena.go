package trace

import (
	"sync"
	"unsafe"
)

// tpLen is a version-00 traceparent's length.
const tpLen = 55

// tpArena hands out generated traceparents, and the one-element slices
// that put them in a Header, from one block made per tpPerArena requests
// instead of two allocations per request. Each string is written once,
// before it is handed out, and its bytes are never written again, so it is
// as immutable as any other Go string; whatever retains one (a log line, a
// mirrored request) keeps its block alive, at most tpPerArena times its
// own size. The slices have a capacity of one: an append moves out.
type tpArena struct {
	buf  [tpPerArena * tpLen]byte
	vals [tpPerArena]string
	n    int
}

const tpPerArena = 64

// arenas keeps a partly used arena per P, so requests on different cores
// take from different blocks without a lock.
var arenas = sync.Pool{New: func() any { return new(tpArena) }}

// newTraceparent returns a fresh traceparent that fill writes, and the
// Header value slice holding it.
func newTraceparent(fill func(*[tpLen]byte)) (string, []string) {
	a := arenas.Get().(*tpArena)
	if a.n == tpPerArena {
		a = new(tpArena) // the spent block lives on while its strings do
	}
	i := a.n
	a.n++
	b := (*[tpLen]byte)(a.buf[i*tpLen : (i+1)*tpLen])
	fill(b)
	a.vals[i] = unsafe.String(&b[0], tpLen)
	vv := a.vals[i : i+1 : i+1]
	arenas.Put(a)
	return vv[0], vv
}
