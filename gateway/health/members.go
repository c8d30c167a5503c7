package health

import "github.com/drawbridge-dev/drawbridge/gateway/upstream"

// applyMembers makes m's keys the members, as a diff applied in place: add
// makes the state of each new member, remove lets go of each member that
// is no longer listed, and kept members keep their state.
func applyMembers[S any](m map[*upstream.Backend]S, members []*upstream.Backend, add func(*upstream.Backend) S, remove func(*upstream.Backend, S)) {
	keep := make(map[*upstream.Backend]struct{}, len(members))
	for _, b := range members {
		keep[b] = struct{}{}
		if _, ok := m[b]; !ok {
			m[b] = add(b)
		}
	}
	for b, s := range m {
		if _, ok := keep[b]; !ok {
			remove(b, s)
			delete(m, b)
		}
	}
}
