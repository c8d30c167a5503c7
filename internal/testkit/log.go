package testkit

import (
	"slices"
	"sync"
)

// Log collects what other goroutines report (a sink's memberships, a
// hook's calls) for the test to read. It is safe for concurrent use.
type Log[T any] struct {
	mu sync.Mutex
	vs []T
}

// Add records v.
func (l *Log[T]) Add(v T) {
	l.mu.Lock()
	l.vs = append(l.vs, v)
	l.mu.Unlock()
}

// All is a copy of what was recorded, oldest first.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.vs)
}

// Len counts what was recorded.
func (l *Log[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.vs)
}

// Last is the newest value and how many there are (the zero value and 0
// when nothing was recorded).
func (l *Log[T]) Last() (T, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var v T
	if len(l.vs) > 0 {
		v = l.vs[len(l.vs)-1]
	}
	return v, len(l.vs)
}
