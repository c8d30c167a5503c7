package negotiate

import "testing"

func TestEncodingQ(t *testing.T) {
	for _, c := range []struct {
		ae   string
		want float64
	}{
		{"", 0},
		{"gzip", 1},
		{"GZIP;q=0.5", 0.5},
		{"x-gzip", 1},
		{"br, gzip;q=0", 0},
		{"*", 1},
		{"*;q=0.3, br", 0.3},
		{"gzip;q=0, *", 0}, // named beats the wildcard
		{"gzip;q=2", 0},    // out of range is a refusal
		{"gzip;q=abc", 0},
		{"gzip;level=1;q=0.7", 0.7},
		{"gzip ; q = 0.4 ", 0.4},
		{"identity", 0},
		{"gzipx", 0},
	} {
		if got := EncodingQ(c.ae, "gzip", "x-gzip"); got != c.want {
			t.Errorf("EncodingQ(%q) = %v, want %v", c.ae, got, c.want)
		}
	}
	if got := EncodingQ("gzip, br;q=0.2", "br"); got != 0.2 {
		t.Errorf("br = %v, want 0.2", got)
	}
}
