package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name          string
		history       int // samples, one per hour
		decisions     int
		wantHistory   int
		wantDecisions int
		core          string
	}{
		{"empty", 0, 0, 0, 0, ""},
		{"small", 3, 2, 3, 2, `{"recommendations":[{"time":"2026-01-01T00:00:00Z","capacity":3}]}`},
		{"history bounded to 14 days", 20 * 24, 0, 14*24 + 1, 0, ""},
		{"decisions bounded", 0, MaxDecisions + 7, 0, MaxDecisions, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(filepath.Join(t.TempDir(), "state"))
			if err != nil {
				t.Fatal(err)
			}
			var g Group
			for i := range tc.history {
				g.History = append(g.History, autoscaler.Sample{Time: t0.Add(time.Duration(i) * time.Hour), Value: float64(i)})
			}
			for i := range tc.decisions {
				g.Decisions = append(g.Decisions, autoscaler.Decision{Time: t0.Add(time.Duration(i) * time.Minute), Group: "web/a", Desired: i})
			}
			if tc.core != "" {
				g.Core = json.RawMessage(tc.core)
			}
			if err := d.Save("web/a", g); err != nil {
				t.Fatal(err)
			}
			got, err := d.Load("web/a")
			if err != nil {
				t.Fatal(err)
			}
			if len(got.History) != tc.wantHistory || len(got.Decisions) != tc.wantDecisions {
				t.Fatalf("loaded %d samples, %d decisions; want %d, %d", len(got.History), len(got.Decisions), tc.wantHistory, tc.wantDecisions)
			}
			if tc.history > 0 && !got.History[len(got.History)-1].Time.Equal(g.History[len(g.History)-1].Time) {
				t.Errorf("newest sample lost")
			}
			if tc.decisions > 0 && got.Decisions[len(got.Decisions)-1].Desired != tc.decisions-1 {
				t.Errorf("newest decision lost")
			}
			if string(got.Core) != tc.core {
				t.Errorf("core = %s, want %s", got.Core, tc.core)
			}
		})
	}
}

func TestGroupNameStaysInsideRoot(t *testing.T) {
	root := t.TempDir()
	d, _ := Open(root)
	if err := d.Save("../escape", Group{History: []autoscaler.Sample{{Time: time.Now(), Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape")); err == nil {
		t.Fatal("group name escaped the state directory")
	}
}

func TestCorruptFileIsAnError(t *testing.T) {
	root := t.TempDir()
	d, _ := Open(root)
	os.MkdirAll(filepath.Join(root, "web"), 0o755)
	os.WriteFile(filepath.Join(root, "web", historyFile), []byte("{nope"), 0o644)
	if _, err := d.Load("web"); err == nil {
		t.Fatal("want an error for a corrupt history file, not a silent empty history")
	}
}
