package yamlconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type backend struct {
	Address string `yaml:"address"`
}

type substDoc struct {
	Name     string            `yaml:"name"`
	Port     int               `yaml:"port"`
	On       bool              `yaml:"on"`
	Every    time.Duration     `yaml:"every"`
	Backends []backend         `yaml:"backends"`
	Labels   map[string]string `yaml:"labels"`
}

func decodeSubst(t *testing.T, file, src string) (substDoc, *Lines, error) {
	t.Helper()
	var d substDoc
	l, err := Decode(file, []byte(src), &d)
	return d, l, err
}

func TestSubstituteForms(t *testing.T) {
	t.Setenv("SUB_HOST", "b.internal")
	t.Setenv("SUB_PORT", "8080")
	t.Setenv("SUB_ON", "true")
	t.Setenv("SUB_EMPTY", "")
	t.Setenv("SUB_EVERY", "5s")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "name.txt"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `# ${NOT_SUBSTITUTED} in a comment
name: ${file:name.txt}
port: "${SUB_PORT}"
on: ${SUB_ON}
every: ${SUB_EVERY}
backends:
  - address: ${SUB_HOST}:${SUB_PORT}
  - address: ${SUB_UNSET_X:-fallback:1}
  - address: x${SUB_EMPTY:-dflt}y
  - address: "a$${LITERAL}b"
labels:
  ${KEY}: "[${SUB_EMPTY}]"
`
	d, l, err := decodeSubst(t, filepath.Join(dir, "c.yaml"), src)
	if err != nil {
		t.Fatal(err)
	}
	want := substDoc{
		Name: "from-file", Port: 8080, On: true, Every: 5 * time.Second,
		Backends: []backend{{"b.internal:8080"}, {"fallback:1"}, {"xdflty"}, {"a${LITERAL}b"}},
		Labels:   map[string]string{"${KEY}": "[]"},
	}
	if d.Name != want.Name || d.Port != want.Port || d.On != want.On || d.Every != want.Every {
		t.Errorf("got %+v, want %+v", d, want)
	}
	for i, b := range want.Backends {
		if d.Backends[i] != b {
			t.Errorf("backends[%d] = %q, want %q", i, d.Backends[i].Address, b.Address)
		}
	}
	if d.Labels["${KEY}"] != "[]" {
		t.Errorf("keys must not be substituted; labels = %v", d.Labels)
	}
	if files := l.Files(); len(files) != 1 || files[0] != filepath.Join(dir, "name.txt") {
		t.Errorf("Files() = %v, want the one file read", files)
	}
}

func TestSubstituteEmptyIsStringNotDefault(t *testing.T) {
	t.Setenv("SUB_EMPTY", "")
	var d struct {
		Name string `yaml:"name"`
	}
	if _, err := Decode("c.yaml", []byte("name: ${SUB_EMPTY}\n"), &d); err != nil {
		t.Fatal(err)
	}
	if d.Name != "" {
		t.Errorf("name = %q, want empty", d.Name)
	}
	var p struct {
		Port int `yaml:"port"`
	}
	_, err := Decode("c.yaml", []byte("port: ${SUB_EMPTY}\n"), &p)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:1: port: expected an integer") {
		t.Errorf("empty int: err = %v, want an integer error (not a silent default)", err)
	}
}

func TestSubstituteErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxSubstFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ src, want string }{
		{"name: a\nbackends:\n  - address: x\n  - address: ${SUB_MISSING_B}\n",
			"c.yaml:4: backends[1].address: environment variable SUB_MISSING_B is not set"},
		{"name: ${file:nope.txt}\n", "c.yaml:1: name: cannot read " + filepath.Join(dir, "nope.txt") + " for ${file:nope.txt}: no such file or directory"},
		{"name: ${file:big}\n", "c.yaml:1: name: " + big + " for ${file:big} is larger than 1048576 bytes"},
		{"name: ${file:}\n", "c.yaml:1: name: ${file:} needs a path"},
		{"name: ${file:" + dir + "}\n", "c.yaml:1: name: " + dir + " for ${file:" + dir + "} is not a regular file"},
		{"\nname: ab${OPEN\n", "c.yaml:2: name: unterminated ${"},
		{"name: ${1BAD}\n", `c.yaml:1: name: invalid variable name "1BAD"`},
		{"name: ${A-B}\n", `c.yaml:1: name: invalid variable name "A-B"`},
		{"labels:\n  k: ${}\n", `c.yaml:2: labels.k: invalid variable name ""`},
	} {
		_, _, err := decodeSubst(t, filepath.Join(dir, "c.yaml"), tc.src)
		if err == nil {
			t.Errorf("%q: no error, want %q", tc.src, tc.want)
			continue
		}
		got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
		want := strings.ReplaceAll(tc.want, dir+string(filepath.Separator), "")
		if !strings.HasPrefix(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.src, got, want)
		}
	}
}

func TestSubstituteAbsoluteFileAndCRLF(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "s")
	if err := os.WriteFile(f, []byte("line1\nline2\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The config's own directory does not matter for an absolute path.
	d, _, err := decodeSubst(t, "elsewhere/c.yaml", "name: ${file:"+f+"}\n")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "line1\nline2" {
		t.Errorf("name = %q, want one trailing newline trimmed", d.Name)
	}
}

func TestSubstitutedSecretsStayOutOfErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("hunter2-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SUB_TOKEN", "tok-abcdef")
	// Wrong type: the decode error names the reference, not the content.
	_, _, err := decodeSubst(t, filepath.Join(dir, "c.yaml"), "port: ${file:pw}\non: ${SUB_TOKEN}\n")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, secret := range []string{"hunter2-secret", "tok-abcdef"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error shows %q:\n%s", secret, msg)
		}
	}
	if !strings.Contains(msg, "port: expected an integer, got the value of ${file:pw}") {
		t.Errorf("error does not name the reference:\n%s", msg)
	}
	// A later check that echoes a value, of any key, gets it redacted.
	d, l, err := decodeSubst(t, filepath.Join(dir, "c.yaml"), "name: ${file:pw}\n")
	if err != nil {
		t.Fatal(err)
	}
	err = l.Locate(Errors{{Key: "port", Msg: "name " + d.Name + " is too guessable"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Locate: %v", err)
	}
}

func TestSubstituteTaggedStaysString(t *testing.T) {
	t.Setenv("SUB_PORT", "8080")
	var d struct {
		Port int `yaml:"port"`
	}
	// An explicit !!str keeps the substituted text a string.
	_, err := Decode("c.yaml", []byte("port: !!str ${SUB_PORT}\n"), &d)
	if err == nil {
		t.Error("!!str value decoded as an integer")
	}
}
