package clock

import (
	"context"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func TestEvery(t *testing.T) {
	start := time.Unix(1000, 0)
	f := NewFake(start)
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, f, time.Second, func(now time.Time) { ticks <- now })
	}()
	testkit.Eventually(t, "Every's ticker", func() bool { return f.Waiters() == 1 })
	for i := 1; i <= 3; i++ {
		f.Advance(time.Second)
		if got, want := <-ticks, start.Add(time.Duration(i)*time.Second); !got.Equal(want) {
			t.Fatalf("tick %d at %v, want %v", i, got, want)
		}
	}
	cancel()
	<-done // Every returns once ctx ends
	if n := f.Waiters(); n != 0 {
		t.Fatalf("%d waiters left after Every returned: the ticker was not stopped", n)
	}
}
