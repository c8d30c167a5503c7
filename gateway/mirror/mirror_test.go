package mirror

import (
	"net/http"
	"strings"
	"testing"
)

type noCount struct{}

func (noCount) Sent()    {}
func (noCount) Failed()  {}
func (noCount) Dropped() {}

// A request with a body, fixed-length or chunked, is never copied: the
// decision is made before any shadow backend is picked.
func TestRequestsWithABodyAreNotMirrored(t *testing.T) {
	picks := 0
	s := New(Config{Percent: 100, MaxInFlight: 1, Timeout: 1}, func() string { picks++; return "" }, noCount{})
	sized, _ := http.NewRequest("POST", "http://x/", strings.NewReader("body"))
	chunked, _ := http.NewRequest("POST", "http://x/", strings.NewReader("body"))
	chunked.ContentLength = -1
	s.Maybe(sized, "/")
	s.Maybe(chunked, "/")
	if picks != 0 {
		t.Fatalf("%d requests with a body were mirrored", picks)
	}
	bodiless, _ := http.NewRequest("GET", "http://x/", nil)
	s.Maybe(bodiless, "/")
	if picks != 1 {
		t.Fatal("a bodiless request was not mirrored")
	}
}

func TestValidate(t *testing.T) {
	c := Config{Pool: "nope"}
	c.SetDefaults()
	c.Percent = 0
	errs := c.Validate(func(string) bool { return false })
	if got := errs.Error(); !strings.Contains(got, `pool: unknown pool "nope"`) || !strings.Contains(got, "percent: must be over 0") {
		t.Fatalf("errors: %v", got)
	}
}
