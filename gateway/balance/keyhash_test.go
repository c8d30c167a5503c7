package balance

import (
	"fmt"
	"net/http"
	"testing"
)

// HashKey must place a key exactly where the header KeyFunc places the
// same value, so a client id and an HTTP key of equal text agree.
func TestHashKeyMatchesTheKeyFuncs(t *testing.T) {
	kf, err := ParseKey("header:X-Client")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "sensor-0042", "a-client-id-longer-than-eight-bytes"} {
		r := &http.Request{Header: http.Header{"X-Client": {k}}}
		if got, want := HashKey(k), kf(r); got != want {
			t.Errorf("HashKey(%q) = %#x, header key hashes it to %#x", k, got, want)
		}
	}
	if HashKey("") != MissingKey {
		t.Error("empty key is not MissingKey")
	}
}

// Client ids through HashKey spread over a ring as well as any key.
func TestHashKeySpreadsClientIDsOverTheRing(t *testing.T) {
	members := equalPool(3)
	bal := mustNew(t, "consistent_hash", Options{}, members)
	counts := map[string]int{}
	const n = 3000
	for i := range n {
		counts[bal.Pick(&Request{Now: t0, Hash: HashKey(fmt.Sprintf("client-%d", i))}).ID()]++
	}
	for id, c := range counts {
		if c < n/3*85/100 || c > n/3*115/100 {
			t.Errorf("%s got %d of %d keys, want within 15%% of a third", id, c, n)
		}
	}
}
