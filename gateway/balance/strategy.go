package balance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// DefaultVirtualNodes is the number of ring points per unit of weight that
// consistent_hash gives a backend when Options.VirtualNodes is 0. 160 points
// keep each backend's share of the key space within about ±8% (one standard
// deviation) of its fair share.
const DefaultVirtualNodes = 160

// maxVirtualNodes bounds Options.VirtualNodes so a typo cannot build a ring
// of billions of points.
const maxVirtualNodes = 4096

// Options tunes the strategies that need tuning; the others ignore it.
type Options struct {
	// VirtualNodes is consistent_hash's number of ring points per unit of
	// weight; 0 means DefaultVirtualNodes.
	VirtualNodes int
	// BoundedLoad is consistent_hash's load bound factor (Envoy's
	// hash_balance_factor, Mirrokni et al.'s c): a backend already holding
	// ceil(BoundedLoad * (total in-flight + 1) / n) requests is passed over
	// for the next one clockwise. 0 turns the bound off; otherwise it must be
	// greater than 1 (1.25 is a common choice).
	BoundedLoad float64
}

func (o Options) validate() (Options, error) {
	switch {
	case o.VirtualNodes < 0 || o.VirtualNodes > maxVirtualNodes:
		return o, fmt.Errorf("virtual nodes %d out of range [0, %d]", o.VirtualNodes, maxVirtualNodes)
	case o.BoundedLoad != 0 && !(o.BoundedLoad > 1 && !math.IsInf(o.BoundedLoad, 0)):
		return o, fmt.Errorf("bounded load factor %v must be 0 (off) or a finite number > 1", o.BoundedLoad)
	}
	if o.VirtualNodes == 0 {
		o.VirtualNodes = DefaultVirtualNodes
	}
	return o, nil
}

// Strategy names, as written in a pool's or an L4 listener's strategy. They
// are a configuration contract: never rename one. This registry is the one
// place they are spelled; configuration validation asks it.
const (
	RoundRobin         = "round_robin"
	WeightedRoundRobin = "weighted_round_robin"
	LeastConnections   = "least_connections"
	PowerOfTwo         = "power_of_two"
	LeastResponseTime  = "least_response_time"
	IPHash             = "ip_hash"
	ConsistentHash     = "consistent_hash"
	Random             = "random"
)

// Info is what configuration needs to know about a strategy besides its
// name.
type Info struct {
	Name string
	// Hashed strategies pick by Request.Hash, so a pool's hash_key applies.
	Hashed bool
	// Ring strategies read Options (virtual nodes, bounded load); the
	// others ignore them.
	Ring bool
	// PerConnection strategies make sense per TCP connection (L4). Those
	// that weigh response times do not: a TCP proxy only sees connect times.
	PerConnection bool
	make          func(Options) Balancer
}

// strategies is the registry, in the order Strategies lists it.
var strategies = []Info{
	{Name: RoundRobin, PerConnection: true, make: func(Options) Balancer { return new(roundRobin) }},
	{Name: WeightedRoundRobin, PerConnection: true, make: func(Options) Balancer { return new(weightedRoundRobin) }},
	{Name: LeastConnections, PerConnection: true, make: func(Options) Balancer { return new(leastConnections) }},
	{Name: PowerOfTwo, PerConnection: true, make: func(Options) Balancer { return new(powerOfTwo) }},
	{Name: LeastResponseTime, make: func(Options) Balancer { return new(leastResponseTime) }},
	{Name: IPHash, Hashed: true, PerConnection: true, make: func(Options) Balancer { return new(ipHash) }},
	{Name: ConsistentHash, Hashed: true, Ring: true, PerConnection: true, make: func(o Options) Balancer { return newConsistentHash(o) }},
	{Name: Random, PerConnection: true, make: func(Options) Balancer { return new(random) }},
}

// Strategies lists the strategy names New accepts.
func Strategies() []string { return StrategiesWhere(nil) }

// StrategiesWhere lists, in registry order, the names of the strategies
// for which keep is true (all of them when keep is nil).
func StrategiesWhere(keep func(Info) bool) []string {
	var names []string
	for _, s := range strategies {
		if keep == nil || keep(s) {
			names = append(names, s.Name)
		}
	}
	return names
}

// Lookup returns the named strategy's Info, or an error that names the
// known ones.
func Lookup(name string) (Info, error) {
	for _, s := range strategies {
		if s.Name == name {
			return s, nil
		}
	}
	return Info{}, fmt.Errorf("unknown strategy %q; want one of %s", name, strings.Join(Strategies(), ", "))
}

// New returns an empty balancer of the named strategy; call Update to give
// it members. Options are validated even for strategies that ignore them.
//
//	round_robin           members in turn; skipped turns are consumed, so the
//	                      usable ones keep exactly equal shares
//	weighted_round_robin  nginx's smooth WRR (5,1,1 gives a,a,b,a,c,a,a),
//	                      one period precomputed per Update
//	least_connections     exact minimum of (in-flight+1)/weight, random ties
//	power_of_two          P2C: two weighted draws, less in-flight/weight wins
//	least_response_time   P2C over peak-EWMA latency × (in-flight+1)/weight
//	ip_hash               Request.Hash onto the weighted list (not a ring)
//	consistent_hash       ring, fixed points per backend, optional bounded loads
//	random                weighted random
//
// Every strategy skips members that are not Available or that
// Request.Exclude rejects, returns nil only when no member qualifies, and
// honours slow start: a ramping member's effective weight is
// Weight()*SlowStartFactor (the unweighted strategies take it with that
// probability, the hash strategies with a coin drawn from the key).
//
// least_connections, and consistent_hash with a BoundedLoad, install
// themselves as their members' in-flight tracker (upstream.Backend.
// SetTracker), of which a Backend has one: a Backend must belong to one
// such balancer at a time. Update hooks new and kept members and unhooks
// removed ones. A balancer that is replaced needs no cleanup (its
// successor's Update takes the hooks over); do not Update an old one after
// its successor has taken its members, or it will unhook them.
func New(strategy string, opts Options) (Balancer, error) {
	opts, err := opts.validate()
	if err != nil {
		return nil, fmt.Errorf("balance: strategy %q: %w", strategy, err)
	}
	s, err := Lookup(strategy)
	if err != nil {
		return nil, fmt.Errorf("balance: %w", err)
	}
	return s.make(opts), nil
}

// usable reports whether b may take r: available and not excluded.
func usable(b *upstream.Backend, r *Request) bool {
	return b.Available() && (r.Exclude == nil || !r.Exclude(b))
}

// maxDraws bounds how many random (or rehashed) candidates a strategy tries
// before falling back to a linear scan. With a fraction d of the pool
// unusable the fallback runs with probability d^maxDraws, so it only costs
// O(n) when most of the pool is down, and it is what guarantees that Pick
// finds any usable backend and returns nil only when there is none.
const maxDraws = 8

// rng is a per-call splitmix64 generator seeded from math/rand/v2's
// per-thread source: one runtime call per pick, the rest is arithmetic.
type rng struct{ s uint64 }

func newRNG() rng { return rng{rand.Uint64()} }

func (g *rng) next() uint64 {
	g.s += 0x9e3779b97f4a7c15
	return mix64(g.s)
}

// scanWeighted is the slow path shared by the weighted strategies: one pass
// of weighted reservoir sampling over every usable member, each with its
// effective weight Weight()*SlowStartFactor. It returns nil only when no
// member is usable. g supplies the randomness, so a hash strategy seeds it
// from the key to stay deterministic.
func scanWeighted(members []*upstream.Backend, r *Request, g *rng) *upstream.Backend {
	var total float64
	var pick *upstream.Backend
	for _, b := range members {
		if !usable(b, r) {
			continue
		}
		w := float64(b.Weight()) * b.SlowStartFactor(r.Now)
		total += w
		if unit(g.next())*total < w {
			pick = b
		}
	}
	return pick
}

// distinct drops nil and repeated backends, keeping the first occurrence, so
// that one backend never owns two slots (or two trackers) in a strategy.
func distinct(members []*upstream.Backend) []*upstream.Backend {
	out := make([]*upstream.Backend, 0, len(members))
	seen := make(map[*upstream.Backend]struct{}, len(members))
	for _, b := range members {
		if b == nil {
			continue
		}
		if _, dup := seen[b]; dup {
			continue
		}
		seen[b] = struct{}{}
		out = append(out, b)
	}
	return out
}
