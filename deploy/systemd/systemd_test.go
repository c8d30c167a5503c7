package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// systemd-analyze verify parses the units as systemd would: an unknown key
// or a bad value is reported (as a warning, so any output fails the test).
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not on PATH (Debian package systemd)")
	}
	// verify also checks that ExecStart's binary exists; it is not
	// installed here, so point the units at an executable that is.
	stand, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no `true` executable to stand in for /usr/local/bin/drawbridge")
	}
	dir := t.TempDir()
	var paths []string
	for name, unit := range map[string]string{"drawbridge-gateway.service": GatewayUnit, "drawbridge-autoscaler.service": AutoscalerUnit} {
		if !strings.Contains(unit, "ExecStart=/usr/local/bin/drawbridge ") {
			t.Fatalf("%s: ExecStart does not run /usr/local/bin/drawbridge", name)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(unit, "/usr/local/bin/drawbridge", stand)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
