// Package clock abstracts time so that decision code can be tested with a
// fake clock instead of sleeps.
package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is the source of time for anything that schedules work.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f in its own goroutine once d has elapsed.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker delivers ticks every d until stopped.
	NewTicker(d time.Duration) Ticker
}

// Timer is a scheduled call that can be cancelled.
type Timer interface {
	Stop() bool
}

// Ticker is a periodic tick source.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time                            { return time.Now() }
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
func (Real) NewTicker(d time.Duration) Ticker          { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Fake is a manually advanced clock for tests. Timers and tickers fire
// synchronously (timers in their own goroutine, as time.AfterFunc does) when
// Advance moves time past their deadline.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeWaiter
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

type fakeWaiter struct {
	at      time.Time
	period  time.Duration // >0 for tickers
	f       func()
	ch      chan time.Time
	stopped bool
	clk     *Fake
}

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{at: f.now.Add(d), f: fn, clk: f}
	f.waiters = append(f.waiters, w)
	return w
}

func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker period")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{at: f.now.Add(d), period: d, ch: make(chan time.Time, 1), clk: f}
	f.waiters = append(f.waiters, w)
	return fakeTicker{w}
}

type fakeTicker struct{ w *fakeWaiter }

func (t fakeTicker) C() <-chan time.Time { return t.w.ch }
func (t fakeTicker) Stop()               { t.w.Stop() }

// Waiters reports how many timers and tickers are pending; tests use it to
// wait until a goroutine has scheduled its next wake-up before advancing.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.waiters {
		if !w.stopped {
			n++
		}
	}
	return n
}

// Advance moves time forward by d, firing every timer and tick that falls due,
// in deadline order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	target := f.now.Add(d)
	for {
		var due []*fakeWaiter
		for _, w := range f.waiters {
			if !w.stopped && !w.at.After(target) {
				due = append(due, w)
			}
		}
		if len(due) == 0 {
			break
		}
		sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
		w := due[0]
		f.now = w.at
		if w.period > 0 {
			w.at = w.at.Add(w.period)
			select {
			case w.ch <- f.now:
			default: // like time.Ticker: drop ticks a slow reader missed
			}
		} else {
			w.stopped = true
			go w.f()
		}
	}
	f.now = target
	live := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.stopped {
			live = append(live, w)
		}
	}
	f.waiters = live
	f.mu.Unlock()
}

func (w *fakeWaiter) Stop() bool {
	w.clk.mu.Lock()
	defer w.clk.mu.Unlock()
	was := !w.stopped
	w.stopped = true
	return was
}

// Every calls f with the time of each tick of c, every d, until ctx ends.
// f runs on the caller's goroutine, so a slow f delays (and the ticker
// drops) later ticks rather than overlapping them.
func Every(ctx context.Context, c Clock, d time.Duration, f func(now time.Time)) {
	t := c.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C():
			f(now)
		}
	}
}
