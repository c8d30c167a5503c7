package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// File is a lease in a small JSON file. flock(2) serialises the
// read-modify-write of the file between processes (and between File values
// in one process: flock locks belong to the open file description); the
// JSON's expiry, not the flock, decides who holds the lease, so a holder
// that hangs without dying still loses it after its TTL.
type File struct {
	path  string
	clock clock.Clock
}

// NewFile returns a lease stored at path (created on first use).
func NewFile(path string, clk clock.Clock) *File { return &File{path: path, clock: clk} }

type fileState struct {
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expires_at"`
	Token     uint64    `json:"token"`
}

func (f *File) TryAcquire(_ context.Context, holder string, ttl time.Duration) (bool, uint64, error) {
	var held bool
	var token uint64
	err := f.locked(func(st *fileState) bool {
		now := f.clock.Now()
		switch {
		case st.Holder == holder:
			// Renewal keeps the token: the lease did not change hands.
		case st.Holder == "" || !now.Before(st.ExpiresAt):
			st.Holder = holder
			st.Token++
		default:
			token = st.Token
			return false
		}
		st.ExpiresAt = now.Add(ttl)
		held, token = true, st.Token
		return true
	})
	return held, token, err
}

func (f *File) Release(_ context.Context, holder string) error {
	return f.locked(func(st *fileState) bool {
		if st.Holder != holder {
			return false
		}
		// Keep the token so the next holder's is higher.
		st.Holder, st.ExpiresAt = "", time.Time{}
		return true
	})
}

// Holder reads who holds the lease, under the same lock as its writers.
func (f *File) Holder(context.Context) (string, error) {
	var holder string
	err := f.locked(func(st *fileState) bool {
		if f.clock.Now().Before(st.ExpiresAt) {
			holder = st.Holder
		}
		return false
	})
	return holder, err
}

// locked runs fn on the state under an exclusive flock and writes the
// state back when fn reports a change.
func (f *File) locked(fn func(*fileState) bool) error {
	fd, err := os.OpenFile(f.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("lease file: %w", err)
	}
	defer fd.Close()
	if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lease file %s: flock: %w", f.path, err)
	}
	defer syscall.Flock(int(fd.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it anyway
	b, err := io.ReadAll(fd)
	if err != nil {
		return fmt.Errorf("lease file %s: %w", f.path, err)
	}
	var st fileState
	if len(b) > 0 {
		// The first JSON value is the state: a writer killed mid-update
		// may leave the old state's tail behind it (see below).
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
			return fmt.Errorf("lease file %s: %w", f.path, err)
		}
	}
	if !fn(&st) {
		return nil
	}
	b, err = json.Marshal(st)
	if err != nil {
		return err
	}
	// Rewrite in place: a rename would swap the inode under the flock of
	// a concurrent opener. Write, then cut the old tail: a holder killed
	// between the two leaves a readable state. Truncating first left an
	// empty file, and an empty lease hands the next holder token 1, below
	// tokens already served (the netns failover test caught it).
	if _, err := fd.WriteAt(b, 0); err != nil {
		return fmt.Errorf("lease file %s: %w", f.path, err)
	}
	if err := fd.Truncate(int64(len(b))); err != nil {
		return fmt.Errorf("lease file %s: %w", f.path, err)
	}
	return errors.Join(fd.Sync())
}
