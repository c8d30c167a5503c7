package testkit

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer safe for concurrent use: a sink for a gateway's
// log or a process's output that the test reads while they write.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
