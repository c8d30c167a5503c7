package pool

import "github.com/drawbridge-dev/drawbridge/gateway/upstream"

// Drains through the admin API: a drained backend takes no new requests
// and finishes those in flight; the state survives reloads while the
// backend stays in its pool.

// SetDrained sets backend id's drain state; false when the pool has no
// such backend.
func (p *Pool) SetDrained(id string, on bool, by string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.view.Load().lookup(id)
	if b == nil {
		return false
	}
	if p.drained == nil {
		p.drained = map[string]bool{}
	}
	if on {
		p.drained[id] = true
	} else {
		delete(p.drained, id)
	}
	if !b.SetFlag(upstream.FlagDraining, on) {
		return true
	}
	if on {
		p.log.Info("backend drained through the admin API", "backend", id, "inflight", b.Inflight(), "by", by)
	} else {
		b.StartSlowStart(p.clk.Now().UnixNano(), p.settings.slowStart)
		p.log.Info("backend undrained through the admin API", "backend", id, "by", by)
	}
	return true
}

// keepDrains carries admin drains over to a new membership (the caller
// holds p.mu): a backend rebuilt by a reload (a new weight) stays
// drained, and the drain of a backend that left is forgotten.
func (p *Pool) keepDrains(byID map[string]*upstream.Backend) {
	for id := range p.drained {
		if b, ok := byID[id]; ok {
			b.SetFlag(upstream.FlagDraining, true)
		} else {
			delete(p.drained, id)
		}
	}
}
