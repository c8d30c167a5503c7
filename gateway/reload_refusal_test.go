package gateway

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// One bad edit is reported once, however many file events and SIGHUPs
// reload it; a different bad edit is reported again; a fix reloads.
func TestReloadRefusalIsLoggedOncePerEdit(t *testing.T) {
	bs := startBackends(t, 2)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeConfig(t, path, runnerConfig(bs[0].Addr()))
	reload := make(chan struct{}, 1)
	rn := runGateway(t, path, reload)
	refusals := func() int { return strings.Count(rn.log.String(), "config reload refused") }
	attempts := func() uint64 { return rn.g.ReloadStatus().Attempts }

	bad := runnerConfig(bs[1].Addr()) + "\t\tbogus_key: 1\n"
	writeConfig(t, path, bad)
	testkit.Eventually(t, "the refusal", func() bool { return refusals() == 1 })
	// The same bytes again: saved again (more file events) and SIGHUP.
	for range 3 {
		n := attempts()
		writeConfig(t, path, bad)
		testkit.Eventually(t, "the rewrite reloaded", func() bool { return attempts() > n })
		n = attempts()
		reload <- struct{}{}
		testkit.Eventually(t, "the SIGHUP reloaded", func() bool { return attempts() > n })
	}
	if n := refusals(); n != 1 {
		t.Fatalf("the same bad edit was logged %d times, want once:\n%s", n, rn.log.String())
	}
	if st := rn.g.ReloadStatus(); st.LastResult != "failure" || !strings.Contains(st.LastError, "bogus_key") {
		t.Fatalf("reload status %+v", st)
	}

	writeConfig(t, path, runnerConfig(bs[1].Addr())+"\t\tother_bogus_key: 1\n")
	testkit.Eventually(t, "the different bad edit logged", func() bool { return refusals() == 2 })
	if !strings.Contains(rn.log.String(), "other_bogus_key") {
		t.Fatalf("second refusal does not name the key:\n%s", rn.log.String())
	}

	writeConfig(t, path, runnerConfig(bs[1].Addr()))
	testkit.Eventually(t, "the fix applied", func() bool {
		_, body, _ := get(t, &http.Client{}, "http://"+rn.addr+"/")
		return body == "b1\n"
	})
	// Logged once Apply returns, which may be just after the request.
	testkit.Eventually(t, "the good edit logged", func() bool { return strings.Contains(rn.log.String(), "config reloaded") })
	// The first bad edit again, after a good reload, is news.
	writeConfig(t, path, bad)
	testkit.Eventually(t, "the old bad edit logged again", func() bool { return refusals() == 3 })
}
