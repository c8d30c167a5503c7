// Package buildinfo says which drawbridge a binary is: its version, the
// commit it was built from, when, and with which Go.
//
// The Go toolchain embeds most of this itself (runtime/debug.ReadBuildInfo:
// the module version for `go install ...@v1.2.3`, vcs.revision, vcs.time and
// vcs.modified for a build inside a git checkout). A release build can set
// or override each field at link time:
//
//	go build -ldflags "-X github.com/drawbridge-dev/drawbridge/internal/buildinfo.version=v1.2.3 \
//	  -X github.com/drawbridge-dev/drawbridge/internal/buildinfo.commit=abc123 \
//	  -X github.com/drawbridge-dev/drawbridge/internal/buildinfo.date=2026-12-03T00:00:00Z"
//
// (scripts/release.sh does this). Link-time values win over embedded ones.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/mod/module"
)

// Set with -ldflags -X; empty means "use what the toolchain embedded".
var (
	version string
	commit  string
	date    string
)

// Info describes one build. Empty Commit or Date means unknown (a build
// outside a git checkout, or with -buildvcs=false, and no -X override).
// Date is the commit's time unless -X sets it: a build date taken from the
// clock would make two builds of one commit differ.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	Modified  bool   `json:"modified"` // built from a working tree with uncommitted changes
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
}

// Get reads this binary's build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return get(bi, version, commit, date)
}

// get is Get with its inputs passed in, so each source can be tested.
func get(bi *debug.BuildInfo, ldVersion, ldCommit, ldDate string) Info {
	info := Info{Version: "dev", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		// "(devel)" is what a build inside the checkout reports: no version.
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
			// `go install ...@<commit>` builds from the module proxy, which
			// embeds no vcs settings; its pseudo-version still names the
			// commit and its time.
			if module.IsPseudoVersion(v) {
				if rev, err := module.PseudoVersionRev(v); err == nil {
					info.Commit = rev
				}
				if t, err := module.PseudoVersionTime(v); err == nil {
					info.Date = t.UTC().Format("2006-01-02T15:04:05Z")
				}
			}
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Date = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if ldVersion != "" {
		info.Version = ldVersion
	}
	if ldCommit != "" {
		info.Commit = ldCommit
	}
	if ldDate != "" {
		info.Date = ldDate
	}
	return info
}

// String is the multi-line form `drawbridge version` prints.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "drawbridge %s\n", i.Version)
	c := i.Commit
	if c == "" {
		c = "unknown"
	}
	if i.Modified {
		c += " (modified)"
	}
	fmt.Fprintf(&b, "  commit:  %s\n", c)
	d := i.Date
	if d == "" {
		d = "unknown"
	}
	fmt.Fprintf(&b, "  date:    %s\n", d)
	fmt.Fprintf(&b, "  go:      %s %s\n", i.GoVersion, i.Platform)
	return b.String()
}
