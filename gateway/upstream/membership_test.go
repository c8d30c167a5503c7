package upstream

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestDiffKeepsSameBackendsAndReplacesChanged(t *testing.T) {
	a, b, c := New(Spec{Address: "a:1"}), New(Spec{Address: "b:1"}), New(Spec{ID: "c", Address: "c:1", Weight: 2})
	e := New(Spec{ID: "e", Address: "e:1"})
	d := Diff([]*Backend{a, b, c, e}, []Spec{
		{ID: "c", Address: "c:1", Weight: 3}, // weight changed: kept, reweighted
		{Address: "a:1"},                     // kept
		{Address: "d:1"},                     // new
		{ID: "e", Address: "e:2"},            // address changed: replaced
	})
	if len(d.Members) != 4 || d.Members[1] != a || d.ByID["a:1"] != a {
		t.Fatalf("kept backend lost its identity: %v", d.Members)
	}
	if d.Members[0] != c || c.Weight() != 2 {
		t.Fatal("a backend whose only change is its weight was replaced, or Diff changed it")
	}
	if len(d.Reweighted) != 1 || d.Reweighted[0] != (WeightChange{Backend: c, Old: 2, New: 3}) {
		t.Fatalf("reweighted %+v", d.Reweighted)
	}
	if ids := ids(d.Added); !slices.Equal(ids, []string{"d:1", "e"}) || d.ByID["e"] == e {
		t.Fatalf("added %v", ids)
	}
	if ids := ids(d.Removed); !slices.Equal(ids, []string{"b:1", "e"}) || d.Removed[1] != e {
		t.Fatalf("removed %v", ids)
	}
	var logs bytes.Buffer
	d.SetWeights(slog.New(slog.NewTextHandler(&logs, nil)))
	if c.Weight() != 3 || !strings.Contains(logs.String(), `msg="backend weight changed" backend=c address=c:1 old=2 new=3`) {
		t.Fatalf("after SetWeights: weight %d, log %q", c.Weight(), logs.String())
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
