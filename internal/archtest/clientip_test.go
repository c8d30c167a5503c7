package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// peerParsing matches code that reads a client's address out of a
// RemoteAddr itself instead of asking package clientip.
var peerParsing = regexp.MustCompile(`(SplitHostPort|ParseAddrPort|ParseAddr|LastIndexByte)\([^)]*RemoteAddr\b`)

// clientIPParsers lists the non-test files under root/gateway, other than
// package clientip, that parse a RemoteAddr.
func clientIPParsers(t *testing.T, root string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(filepath.Join(root, "gateway"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		if filepath.Base(filepath.Dir(path)) == "clientip" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if peerParsing.MatchString(line) {
				rel, _ := filepath.Rel(root, path)
				bad = append(bad, rel+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// One client-IP function: ip_hash, rate-limit keys, access lists,
// forwarding headers and the rest cannot key one client differently when
// only package clientip reads the peer address.
func TestOneClientIPParser(t *testing.T) {
	for _, b := range clientIPParsers(t, "../..") {
		t.Errorf("parses RemoteAddr itself (use gateway/clientip): %s", b)
	}
}

func TestClientIPRuleCatchesParsers(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "gateway", "x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package x\n\nfunc f(r *http.Request) {\n\thost, _, _ := net.SplitHostPort(r.RemoteAddr)\n\t_ = host\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := clientIPParsers(t, root); len(got) != 1 || !strings.HasPrefix(got[0], filepath.Join("gateway", "x", "x.go")+":4:") {
		t.Errorf("got %q, want the one parser at x.go:4", got)
	}
}
