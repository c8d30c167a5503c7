// Package testkit is what the project's tests share: waiting on a
// condition, loopback HTTP and TCP backends, raw client connections
// (Dial, RawRoundTrip), the test binary re-executed
// as a backend process, the drawbridge binary built once per run, and an
// SDK config for the AWS double. It is imported by tests only.
package testkit

import (
	"testing"
	"time"
)

// Patience bounds Eventually. It only matters when a test fails, and the
// machines that run the tests are shared and often busy, so it is long.
const Patience = 15 * time.Second

// Eventually polls cond until it holds, failing the test after Patience.
// It waits for the effects of other goroutines and processes; it never
// stands in for time passing (fake time is clock.Fake.Advance).
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, Patience, what, cond)
}

// EventuallyWithin is Eventually with the caller's bound, for waits that
// are long by design (a scale-out, a deployment). It returns how long the
// condition took to hold.
func EventuallyWithin(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	if !Until(limit, cond) {
		t.Fatalf("timed out after %v waiting for %s", limit, what)
	}
	return time.Since(start)
}

// Until polls cond until it holds (true) or limit passes (false), for
// callers that report the failure themselves. Polls start at a millisecond
// and back off to 20 ms, so a quick condition is seen at once and a slow
// one (an HTTP probe, a /proc scan) does not load a busy machine.
func Until(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause) // polling a condition with a deadline
		pause = min(2*pause, 20*time.Millisecond)
	}
	return true
}

// Receive waits for a value on ch, failing the test with what after
// Patience: how a test takes another goroutine's result.
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(Patience):
		t.Fatalf("%s: nothing after %v", what, Patience)
		panic("unreachable")
	}
}

// Started waits until ready is closed, failing the test with the error
// if the server exits first (its run error on exited), or after Patience.
func Started(t testing.TB, ready <-chan struct{}, exited <-chan error, what string) {
	t.Helper()
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("%s exited before it was ready: %v", what, err)
	case <-time.After(Patience):
		t.Fatalf("%s not ready after %v", what, Patience)
	}
}

// Streamed returns what read gets while a backend holds the rest of its
// response, then calls release (also when the wait fails, so the backend
// never hangs the test's cleanup): proof that data reached the client
// before the backend finished.
func Streamed(t testing.TB, release func(), read func() string) string {
	t.Helper()
	got := make(chan string, 1)
	go func() { got <- read() }()
	defer release()
	return Receive(t, got, "data before the backend finished")
}
