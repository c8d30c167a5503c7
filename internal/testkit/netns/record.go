package netns

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// Answer is one 200 a client got through the gateways.
type Answer struct {
	Start, End time.Time
	Node       string // X-Drawbridge-Node: the gateway that served it
	Backend    string // X-Backend-Id: the backend behind it
	Token      uint64 // X-Drawbridge-Fence: the lease's fencing token
}

// clientErr is one request that got no 200.
type clientErr struct {
	start time.Time
	msg   string
}

// Record is what a client load saw: its answers and its failures. It is
// safe for concurrent use.
type Record struct {
	mu      sync.Mutex
	answers []Answer
	errs    []clientErr
}

// Get sends GET url with c and records the answer or the failure.
func (r *Record) Get(c *http.Client, url string) {
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		r.fail(start, err.Error())
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The first line of the body says which of the gateway's own
		// answers it was (passive gateway, no healthy backend, ...).
		why, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		if len(why) > 60 {
			why = why[:60]
		}
		r.fail(start, fmt.Sprintf("status %d from %s (%s)", resp.StatusCode, resp.Header.Get("X-Drawbridge-Node"), strings.ReplaceAll(why, ": ", " ")))
		return
	}
	tok, _ := strconv.ParseUint(resp.Header.Get("X-Drawbridge-Fence"), 10, 64)
	a := Answer{start, time.Now(), resp.Header.Get("X-Drawbridge-Node"), resp.Header.Get("X-Backend-Id"), tok}
	r.mu.Lock()
	r.answers = append(r.answers, a)
	r.mu.Unlock()
}

func (r *Record) fail(start time.Time, msg string) {
	r.mu.Lock()
	r.errs = append(r.errs, clientErr{start, msg})
	r.mu.Unlock()
}

// Answers returns a copy of the answers so far, in the order they came.
func (r *Record) Answers() []Answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.answers)
}

// Errors lists the failed requests that started in [from, to).
func (r *Record) Errors(from, to time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.errs {
		if !e.start.Before(from) && e.start.Before(to) {
			out = append(out, e.msg)
		}
	}
	return out
}

// Failed counts the failed requests, and gives the latest failure.
func (r *Record) Failed() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return 0, ""
	}
	return len(r.errs), r.errs[len(r.errs)-1].msg
}

// Find returns the first answer that ended after since and satisfies ok.
func (r *Record) Find(since time.Time, ok func(Answer) bool) (Answer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.answers {
		if a.End.After(since) && ok(a) {
			return a, true
		}
	}
	return Answer{}, false
}

// Wait waits up to limit for an answer that ended after since and
// satisfies ok.
func (r *Record) Wait(since time.Time, limit time.Duration, ok func(Answer) bool) (Answer, error) {
	var a Answer
	if !testkit.Until(limit, func() (found bool) { a, found = r.Find(since, ok); return found }) {
		return Answer{}, errors.New("no such answer in time")
	}
	return a, nil
}

// Quiet is the longest stretch in (from, to] in which the clients got no
// answer: how much the machine's load alone stretches a gap the clients
// see, measured with no failover under way.
func Quiet(as []Answer, from, to time.Time) time.Duration {
	var ends []time.Time
	for _, a := range as {
		if a.End.After(from) && !a.End.After(to) {
			ends = append(ends, a.End)
		}
	}
	slices.SortFunc(ends, time.Time.Compare)
	var q time.Duration
	prev := from
	for _, e := range ends {
		q = max(q, e.Sub(prev))
		prev = e
	}
	return max(q, to.Sub(prev))
}

// CheckFencing proves no split brain from the clients' side: every answer
// carries a token; an answer whose request started after another answer
// had ended must not carry a lower token, and one token is one node.
func CheckFencing(t testing.TB, as []Answer) {
	t.Helper()
	byStart := slices.Clone(as)
	slices.SortFunc(byStart, func(a, b Answer) int { return a.Start.Compare(b.Start) })
	byEnd := slices.Clone(as)
	slices.SortFunc(byEnd, func(a, b Answer) int { return a.End.Compare(b.End) })
	owner := map[uint64]string{}
	var maxTok uint64
	var maxAt Answer
	j := 0
	for _, a := range byStart {
		if a.Token == 0 {
			t.Fatalf("answer from %s without a fencing token", a.Node)
		}
		if o, ok := owner[a.Token]; ok && o != a.Node {
			t.Fatalf("token %d answered by both %s and %s", a.Token, o, a.Node)
		}
		owner[a.Token] = a.Node
		for ; j < len(byEnd) && byEnd[j].End.Before(a.Start); j++ {
			if byEnd[j].Token > maxTok {
				maxTok, maxAt = byEnd[j].Token, byEnd[j]
			}
		}
		if a.Token < maxTok {
			t.Fatalf("split brain: %s answered with token %d at %v, after %s had answered with token %d at %v",
				a.Node, a.Token, a.Start.Format(time.StampMicro), maxAt.Node, maxTok, maxAt.End.Format(time.StampMicro))
		}
	}
}
