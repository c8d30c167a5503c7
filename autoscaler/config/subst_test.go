package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadSubstitutes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "holder"), []byte("node-7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `interval: ${AS_INTERVAL:-30s}
lease:
  holder: ${file:holder}
aws:
  region: ${AS_REGION}
groups:
  - name: web
    max: ${AS_MAX}
    policies:
      - type: ${AS_POLICY:-target_tracking}
`
	path := filepath.Join(dir, "autoscaler.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AS_REGION", "eu-west-1")
	t.Setenv("AS_MAX", "12")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval != 30*time.Second || c.Lease.Holder != "node-7" || c.AWS.Region != "eu-west-1" || c.Groups[0].Max != 12 {
		t.Errorf("interval %v, holder %q, region %q, max %d: not substituted", c.Interval, c.Lease.Holder, c.AWS.Region, c.Groups[0].Max)
	}
	if _, ok := c.Groups[0].Policies[0].Spec.(*TargetTrackingPolicy); !ok {
		t.Errorf("policy %T, want the kind named by the default", c.Groups[0].Policies[0].Spec)
	}

	os.Unsetenv("AS_MAX") // t.Setenv restores it
	_, err = Load(path)
	if want := path + ":8: groups[0].max: environment variable AS_MAX is not set"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("unset variable: err = %v, want %s", err, want)
	}
}
