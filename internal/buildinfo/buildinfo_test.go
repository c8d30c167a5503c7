package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestGetFromVCSSettings(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	got := get(bi, "", "", "")
	if got.Version != "dev" || got.Commit != "0123456789abcdef0123456789abcdef01234567" || got.Date != "2026-12-01T10:00:00Z" || !got.Modified || got.GoVersion != "go1.99.1" {
		t.Fatalf("got %+v", got)
	}
	s := got.String()
	for _, want := range []string{"drawbridge dev\n", "commit:  0123456789abcdef0123456789abcdef01234567 (modified)\n", "date:    2026-12-01T10:00:00Z\n", "go:      go1.99.1 "} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, lacks %q", s, want)
		}
	}
}

func TestLdflagsOverrideEmbedded(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.0.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "aaaa"}, {Key: "vcs.time", Value: "2020-01-01T00:00:00Z"},
	}}
	got := get(bi, "v2.0.0", "bbbb", "2026-12-03T00:00:00Z")
	if got.Version != "v2.0.0" || got.Commit != "bbbb" || got.Date != "2026-12-03T00:00:00Z" {
		t.Fatalf("got %+v", got)
	}
}

// `go install ...@<commit>` embeds a pseudo-version and no vcs settings.
func TestPseudoVersionNamesCommit(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261203185509-2c658fa0b1c2"}}
	got := get(bi, "", "", "")
	if got.Version != "v0.0.0-20261203185509-2c658fa0b1c2" || got.Commit != "2c658fa0b1c2" || got.Date != "2026-12-03T18:55:09Z" {
		t.Fatalf("got %+v", got)
	}
}

func TestUnknownWithoutBuildInfo(t *testing.T) {
	s := get(nil, "", "", "").String()
	if !strings.Contains(s, "drawbridge dev\n") || !strings.Contains(s, "commit:  unknown\n") || !strings.Contains(s, "date:    unknown\n") {
		t.Fatalf("String() = %q", s)
	}
}
