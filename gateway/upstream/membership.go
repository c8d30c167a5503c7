package upstream

import "log/slog"

// Membership is a membership change worked out from the current backends
// and the wanted specs. The L7 pools and the L4 proxy both apply it, so a
// backend is "the same" by one rule everywhere: the same id and address
// keep the very *Backend with its state (in-flight, health, latency, slow
// start), a new weight included; anything else is a removal plus an
// addition.
type Membership struct {
	Members []*Backend          // the new membership, in spec order
	ByID    map[string]*Backend // Members by ID
	Added   []*Backend          // new Backends, in spec order
	Removed []*Backend          // current ones not kept, in their order
	// Reweighted are kept Backends whose weight changes (SetWeights).
	Reweighted []WeightChange
}

// WeightChange is a kept backend's new weight.
type WeightChange struct {
	Backend  *Backend
	Old, New int
}

// Diff works out the change from current to specs. It changes nothing.
func Diff(current []*Backend, specs []Spec) Membership {
	old := make(map[string]*Backend, len(current))
	for _, b := range current {
		old[b.ID()] = b
	}
	m := Membership{Members: make([]*Backend, 0, len(specs)), ByID: make(map[string]*Backend, len(specs))}
	for _, s := range specs {
		nb := New(s)
		if b, ok := old[nb.ID()]; ok && b.Addr() == nb.Addr() {
			if b.Weight() != nb.Weight() {
				m.Reweighted = append(m.Reweighted, WeightChange{Backend: b, Old: b.Weight(), New: nb.Weight()})
			}
			nb = b
		} else {
			m.Added = append(m.Added, nb)
		}
		m.Members = append(m.Members, nb)
		m.ByID[nb.ID()] = nb
	}
	for _, b := range current {
		if m.ByID[b.ID()] != b {
			m.Removed = append(m.Removed, b)
		}
	}
	return m
}

// SetWeights gives the kept backends their new weights and logs each
// change; the caller then updates its strategy, which rebuilds what it
// precomputes from weights.
func (m Membership) SetWeights(log *slog.Logger) {
	for _, c := range m.Reweighted {
		c.Backend.SetWeight(c.New)
		log.Info("backend weight changed", "backend", c.Backend.ID(), "address", c.Backend.Addr(), "old", c.Old, "new", c.New)
	}
}
