package discovery

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fsnotify/fsnotify"
	"gopkg.in/yaml.v3"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/backend"
)

// File publishes the backends listed in a YAML or JSON file (JSON is
// YAML), for hosts without AWS and for config management that writes a
// list. Entries are "host:port" strings or {address, id, weight} maps.
// The file is re-read on change and every Interval (change events are lost
// on some filesystems). A missing or invalid file publishes nothing: the
// last membership stays.
type File struct {
	Path     string
	Interval time.Duration
	Clock    clock.Clock // default clock.Real
	// OnError hears a failed read once: the file is re-read on every
	// event and interval, and the same error again is not repeated until
	// a read succeeds or fails differently. May be nil.
	OnError func(error)
}

func (f *File) Run(ctx context.Context, publish func([]backend.Spec)) error {
	clk := f.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	changed := make(chan struct{}, 1)
	if w, err := fsnotify.NewWatcher(); err == nil {
		defer w.Close()
		abs, _ := filepath.Abs(f.Path)
		// Watch the directory: writers replace files by rename.
		if err := w.Add(filepath.Dir(abs)); err == nil {
			go func() {
				for ev := range w.Events {
					if p, _ := filepath.Abs(ev.Name); p == abs {
						select {
						case changed <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
	}
	tick := make(chan struct{}, 1)
	reported := "" // the failure OnError last heard, until a read succeeds
	for {
		specs, err := f.Read()
		if err != nil {
			if f.OnError != nil && err.Error() != reported {
				f.OnError(err)
			}
			reported = err.Error()
		} else {
			reported = ""
			publish(specs)
		}
		t := clk.AfterFunc(f.Interval, func() {
			select {
			case tick <- struct{}{}:
			default:
			}
		})
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-changed:
		case <-tick:
		}
		t.Stop()
	}
}

type fileEntry struct {
	Address string `yaml:"address"`
	ID      string `yaml:"id"`
	Weight  int    `yaml:"weight"`
}

func (e *fileEntry) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Address = n.Value
		return nil
	}
	type plain fileEntry
	return n.Decode((*plain)(e))
}

// Read parses the file once.
func (f *File) Read() ([]backend.Spec, error) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("discovery file: %w", err)
	}
	var entries []fileEntry
	if err := yaml.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("discovery file %s: %w", f.Path, err)
	}
	specs := make([]backend.Spec, 0, len(entries))
	seen := map[string]bool{}
	for i, e := range entries {
		host, port, err := net.SplitHostPort(e.Address)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("discovery file %s: entry %d: want host:port, got %q", f.Path, i, e.Address)
		}
		if e.ID == "" {
			e.ID = e.Address
		}
		if e.Weight == 0 {
			e.Weight = 1
		}
		if e.Weight < 1 || e.Weight > 1000 {
			return nil, fmt.Errorf("discovery file %s: entry %d: weight %d not in 1..1000", f.Path, i, e.Weight)
		}
		if seen[e.ID] {
			return nil, fmt.Errorf("discovery file %s: entry %d: duplicate id %q", f.Path, i, e.ID)
		}
		seen[e.ID] = true
		specs = append(specs, backend.Spec{ID: e.ID, Address: e.Address, Weight: e.Weight})
	}
	return specs, nil
}
