package upstream

import (
	"slices"
	"testing"
)

func TestDiffKeepsSameSpecsAndReplacesChanged(t *testing.T) {
	a, b, c := New(Spec{Address: "a:1"}), New(Spec{Address: "b:1"}), New(Spec{ID: "c", Address: "c:1", Weight: 2})
	d := Diff([]*Backend{a, b, c}, []Spec{
		{ID: "c", Address: "c:1", Weight: 3}, // weight changed: replaced
		{Address: "a:1"},                     // kept
		{Address: "d:1"},                     // new
	})
	if len(d.Members) != 3 || d.Members[1] != a || d.ByID["a:1"] != a {
		t.Fatalf("kept backend lost its identity: %v", d.Members)
	}
	if d.Members[0] == c || d.Members[0].Weight() != 3 {
		t.Fatal("a backend whose weight changed was kept")
	}
	if ids := ids(d.Added); !slices.Equal(ids, []string{"c", "d:1"}) {
		t.Fatalf("added %v", ids)
	}
	if ids := ids(d.Removed); !slices.Equal(ids, []string{"b:1", "c"}) || d.Removed[1] != c {
		t.Fatalf("removed %v", ids)
	}
	if e := Diff(nil, nil); len(e.Members) != 0 || len(e.Added) != 0 || len(e.Removed) != 0 {
		t.Fatalf("empty diff %+v", e)
	}
}

func ids(bs []*Backend) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.ID())
	}
	return out
}
