// Package store persists what the autoscaler daemon must not forget across
// a restart: each group's metric history, the decision core's state (its
// stabilization window and cached forecasts) and the recent decisions.
// Each group has a directory of JSON files, each written atomically
// (temporary file, fsync, rename), so a crash leaves the old or the new
// version, never a torn one.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// Bounds on what is kept. Predictive scaling uses at most 14 days of
// history (as AWS's does); decisions are for operators, a ring is enough.
const (
	MaxHistory   = 14 * 24 * time.Hour
	MaxDecisions = 500
)

// Group is one group's persisted state.
type Group struct {
	// History is the group's load, oldest first.
	History []autoscaler.Sample
	// Core is the decision core's state (policy.State) as JSON; the store
	// does not interpret it, so it does not change with the policy code.
	Core json.RawMessage
	// Decisions are the most recent decisions, oldest first.
	Decisions []autoscaler.Decision
}

// Trim bounds g: history to MaxHistory before its newest sample, decisions
// to the newest MaxDecisions.
func (g *Group) Trim() {
	if n := len(g.History); n > 0 {
		cut := g.History[n-1].Time.Add(-MaxHistory)
		i := 0
		for i < n && g.History[i].Time.Before(cut) {
			i++
		}
		g.History = g.History[i:]
	}
	if n := len(g.Decisions); n > MaxDecisions {
		g.Decisions = g.Decisions[n-MaxDecisions:]
	}
}

// Dir stores groups under one directory.
type Dir struct{ root string }

// Open creates root if needed.
func Open(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	return &Dir{root: root}, nil
}

const (
	historyFile   = "history.json"
	coreFile      = "core.json"
	decisionsFile = "decisions.json"
)

func (d *Dir) groupDir(group string) string {
	// Escaped so a group name can never reach outside root.
	return filepath.Join(d.root, url.PathEscape(group))
}

// Load reads a group's state; a group never saved yields the zero Group.
func (d *Dir) Load(group string) (Group, error) {
	dir := d.groupDir(group)
	var g Group
	if err := readJSON(filepath.Join(dir, historyFile), &g.History); err != nil {
		return Group{}, err
	}
	if err := readJSON(filepath.Join(dir, decisionsFile), &g.Decisions); err != nil {
		return Group{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, coreFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Group{}, fmt.Errorf("state of group %q: %w", group, err)
	}
	if len(b) > 0 {
		g.Core = b
	}
	return g, nil
}

// Save trims g and writes it.
func (d *Dir) Save(group string, g Group) error {
	g.Trim()
	dir := d.groupDir(group)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state of group %q: %w", group, err)
	}
	if err := writeJSON(filepath.Join(dir, historyFile), g.History); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, decisionsFile), g.Decisions); err != nil {
		return err
	}
	if len(g.Core) > 0 {
		if err := writeFile(filepath.Join(dir, coreFile), g.Core); err != nil {
			return err
		}
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFile(path, b)
}

func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
