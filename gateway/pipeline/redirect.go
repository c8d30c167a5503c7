package pipeline

import (
	"net/http"

	"github.com/drawbridge-dev/drawbridge/gateway/redirect"
)

// CheckedTarget is a route's rewritten request target with the regex
// rewrite's submatches, or the error of an unsafe rewrite (route.
// Route.CheckedTarget).
type CheckedTarget func(*http.Request) (target string, match []string, err error)

// NewRewriteCheck refuses, with 500, a request whose path the route's
// rewrite_regex turns into one the gateway would not accept from a client:
// the configuration, not the client, made it, and no backend should see it.
func NewRewriteCheck(checked CheckedTarget, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		if _, _, err := checked(q.R); err != nil {
			return Refuse(q.W, http.StatusInternalServerError, "the route's path rewrite made an invalid path\n", err.Error(), false)
		}
		return next.Serve(q)
	})
}

// NewRedirect answers with the route's redirect; it ends the chain.
// checked gives the path and query after the route's rewrite, and the
// captures {match.N} expand to.
func NewRedirect(rd *redirect.Redirect, checked CheckedTarget) Handler {
	return HandlerFunc(func(q *Request) error {
		target, match, err := checked(q.R)
		if err != nil {
			return Refuse(q.W, http.StatusInternalServerError, "the route's path rewrite made an invalid path\n", err.Error(), false)
		}
		loc, err := rd.Location(q.R, target, match)
		if err != nil {
			return Refuse(q.W, http.StatusInternalServerError, "the route's redirect made an invalid target\n", err.Error(), false)
		}
		q.Bytes = rd.Serve(q.W, q.R, loc)
		q.Status = rd.Status()
		return nil
	})
}
