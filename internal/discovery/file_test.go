package discovery

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/backend"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func TestFileRead(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, body string
		want       []backend.Spec
		bad        bool
	}{
		{"yaml", "- 10.0.0.1:80\n- {address: 10.0.0.2:80, id: b, weight: 3}\n",
			[]backend.Spec{{ID: "10.0.0.1:80", Address: "10.0.0.1:80", Weight: 1}, {ID: "b", Address: "10.0.0.2:80", Weight: 3}}, false},
		{"json", `["10.0.0.1:80", {"address": "10.0.0.3:81"}]`,
			[]backend.Spec{{ID: "10.0.0.1:80", Address: "10.0.0.1:80", Weight: 1}, {ID: "10.0.0.3:81", Address: "10.0.0.3:81", Weight: 1}}, false},
		{"empty list", "[]", []backend.Spec{}, false},
		{"no port", "- 10.0.0.1\n", nil, true},
		{"duplicate", "- 10.0.0.1:80\n- 10.0.0.1:80\n", nil, true},
		{"weight", "- {address: 10.0.0.1:80, weight: 5000}\n", nil, true},
		{"not a list", "a: b\n", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := os.WriteFile(p, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := (&File{Path: p}).Read()
			if (err != nil) != c.bad || !slices.Equal(got, c.want) {
				t.Fatalf("got %v, %v; want %v (error: %v)", got, err, c.want, c.bad)
			}
		})
	}
}

// TestFileWatch: an edit (by rename, as config managers do) is applied;
// a broken edit keeps the last membership.
func TestFileWatch(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "backends.yaml")
	write := func(body string) {
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
	write("- 10.0.0.1:80\n")
	var failures atomic.Int32
	f := &File{Path: p, Interval: time.Hour, OnError: func(error) { failures.Add(1) }}
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = Watch(ctx, f, sink, nil) }()
	testkit.Eventually(t, "first membership", func() bool { n, _ := sink.last(); return n == 1 })

	write("- 10.0.0.1:80\n- 10.0.0.2:80\n")
	testkit.Eventually(t, "the edit", func() bool { _, s := sink.last(); return len(s) == 2 })
	write("- nonsense\n")
	testkit.Eventually(t, "the broken edit to be refused", func() bool { return failures.Load() > 0 })
	write("- 10.0.0.2:80\n")
	testkit.Eventually(t, "the fixed edit", func() bool { _, s := sink.last(); return len(s) == 1 && s[0].ID == "10.0.0.2:80" })
	if n, _ := sink.last(); n != 3 {
		t.Fatalf("%d memberships applied, want 3 (the broken edit applies nothing)", n)
	}
}

// A broken file is reported once, not on every re-read; a different
// failure, or the same one after a good read, is reported again.
func TestFileReportsAFailureOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "backends.yaml")
	write := func(body string) {
		if err := os.WriteFile(p+".tmp", []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			t.Fatal(err)
		}
	}
	write("- nonsense\n")
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	var failures atomic.Int32
	f := &File{Path: p, Interval: time.Minute, Clock: clk, OnError: func(error) { failures.Add(1) }}
	var published atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.Run(ctx, func([]backend.Spec) { published.Add(1) }) }()
	testkit.Eventually(t, "the first read", func() bool { return clk.Waiters() == 1 })
	for range 3 { // three more reads of the same broken file
		clk.Advance(time.Minute)
		testkit.Eventually(t, "the next read", func() bool { return clk.Waiters() == 1 })
	}
	if n := failures.Load(); n != 1 {
		t.Fatalf("the same failure was reported %d times, want 1", n)
	}
	write("- 10.0.0.1\n")
	testkit.Eventually(t, "a different failure reported", func() bool { return failures.Load() == 2 })
	write("- 10.0.0.1:80\n")
	testkit.Eventually(t, "the fixed file", func() bool { return published.Load() == 1 })
	write("- 10.0.0.1\n")
	testkit.Eventually(t, "the failure after a good read reported", func() bool { return failures.Load() == 3 })
}
