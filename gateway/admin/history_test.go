package admin

import (
	"errors"
	"testing"
	"time"
)

// A refused reload's error stays on record after a later success, so the
// dashboard can still say what went wrong and when.
func TestNoteReloadKeepsLastError(t *testing.T) {
	var h History
	h.SetConfigFile("gw.yaml")
	t0 := time.Unix(100, 0)
	h.NoteReload(t0, errors.New("bad route"))
	h.NoteReload(t0.Add(time.Minute), nil)
	r := h.Reload()
	if r.File != "gw.yaml" || r.Attempts != 2 || r.Failures != 1 || r.LastResult != "success" {
		t.Errorf("reload history = %+v", r)
	}
	if r.LastError != "bad route" || !r.ErrorAt.Equal(t0) || !r.LastAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("last error %q at %v, last at %v", r.LastError, r.ErrorAt, r.LastAt)
	}
}
