package upstream

import "testing"

type testData struct{ n int }

// An owner reads back what it stored, typed; a backend it never stored on
// reads nil; a second owner with another type cannot take a backend over.
func TestExtIsTypedAndHasOneOwner(t *testing.T) {
	var ext Ext[testData]
	b := New(Spec{Address: "127.0.0.1:1"})
	if ext.Load(b) != nil {
		t.Fatal("data before Store")
	}
	v := &testData{n: 7}
	ext.Store(b, v)
	if got := ext.Load(b); got != v {
		t.Fatalf("Load = %v, want %v", got, v)
	}
	defer func() {
		if recover() == nil {
			t.Error("a second owner's Store of another type did not panic")
		}
	}()
	var other Ext[int]
	other.Store(b, new(int))
}
