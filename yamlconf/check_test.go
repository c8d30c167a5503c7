package yamlconf

import "testing"

// A block's problems, found by key relative to it, land under its key.
func TestCheckIn(t *testing.T) {
	var block Check
	block.Add("", "whole block")
	block.Add("level", "bad")
	block.Add("[2]", "bad item")
	block.Between("n", 7, 1, 5)
	var c Check
	c.In("routes[0].compress", block.Errs)
	want := []string{
		"routes[0].compress: whole block",
		"routes[0].compress.level: bad",
		"routes[0].compress[2]: bad item",
		"routes[0].compress.n: must be between 1 and 5, got 7",
	}
	if len(c.Errs) != len(want) {
		t.Fatalf("got %v", c.Errs)
	}
	for i, e := range c.Errs {
		if e.Error() != want[i] {
			t.Errorf("got %q, want %q", e.Error(), want[i])
		}
	}
}
