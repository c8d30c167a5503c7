package yamlconf

import (
	"errors"
	"strings"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		err  Error
		want string
	}{
		{Error{File: "f.yaml", Line: 3, Key: "routes[0].pool", Msg: "required"}, "f.yaml:3: routes[0].pool: required"},
		{Error{File: "f.yaml", Key: "listen", Msg: "bad"}, "f.yaml: listen: bad"},
		{Error{File: "f.yaml", Line: 1, Msg: "empty configuration"}, "f.yaml:1: empty configuration"},
		{Error{Key: "pools[0].backends", Msg: "required"}, "pools[0].backends: required"},
		{Error{Msg: "bad"}, "bad"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type inner struct {
	N int `yaml:"n"`
}

func (i *inner) SetDefaults() { i.N = 7 }

type doc struct {
	Name  string  `yaml:"name"`
	Items []inner `yaml:"items"`
}

func TestDecodeLocatesEveryProblem(t *testing.T) {
	src := "name: x\nitems:\n  - n: 1\n  - {}\n  - n: two\nbogus: 1\n"
	var d doc
	_, err := Decode("d.yaml", []byte(src), &d)
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("want 2 located errors, got %v", err)
	}
	if got := err.Error(); !strings.Contains(got, "d.yaml:5: items[2].n: expected an integer") || !strings.Contains(got, "d.yaml:6: bogus: unknown key") {
		t.Fatalf("errors: %s", got)
	}

	d = doc{}
	lines, err := Decode("d.yaml", []byte("name: x\nitems:\n  - n: 1\n  - {}\n"), &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.Items[1].N != 7 {
		t.Fatalf("defaults not applied to a list item: %+v", d.Items)
	}
	err = lines.Locate(Errors{{Key: "items[1].n", Msg: "too small"}})
	if err == nil || err.Error() != "d.yaml:4: items[1].n: too small" {
		t.Fatalf("Locate: %v", err)
	}
}
