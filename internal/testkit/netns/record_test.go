package netns

import (
	"testing"
	"time"
)

func TestQuiet(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) Answer { return Answer{End: t0.Add(time.Duration(ms) * time.Millisecond)} }
	as := []Answer{at(50), at(10), at(400), at(420), at(900)}
	cases := []struct {
		from, to int
		want     time.Duration
	}{
		{0, 1000, 480 * time.Millisecond},    // 420 -> 900
		{0, 420, 350 * time.Millisecond},     // 50 -> 400
		{400, 1500, 600 * time.Millisecond},  // 900 -> the end of the window
		{1000, 1100, 100 * time.Millisecond}, // no answer at all
	}
	for _, c := range cases {
		if got := Quiet(as, t0.Add(time.Duration(c.from)*time.Millisecond), t0.Add(time.Duration(c.to)*time.Millisecond)); got != c.want {
			t.Errorf("Quiet(%d..%d ms) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

func TestCheckFencingCatchesSplitBrain(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	ok := []Answer{{ms(0), ms(10), "a", "", 1}, {ms(5), ms(20), "a", "", 1}, {ms(30), ms(40), "b", "", 2}, {ms(35), ms(45), "a", "", 1}}
	CheckFencing(t, ok) // a's answer at 35 started before b's first answer ended: allowed
	bad := append(ok, Answer{ms(50), ms(60), "a", "", 1})
	ft := &fatalT{TB: t}
	func() {
		defer func() { _ = recover() }()
		CheckFencing(ft, bad)
	}()
	if !ft.failed {
		t.Fatal("token 1 answered after token 2 had been seen: not caught")
	}
}

// fatalT turns Fatalf into a panic the test recovers, so CheckFencing
// stops where it would stop a test.
type fatalT struct {
	testing.TB
	failed bool
}

func (f *fatalT) Helper() {}
func (f *fatalT) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
