package balance

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// consistentHash is a hash ring (Karger et al.; Envoy's ring_hash) with a
// fixed number of points per backend: VirtualNodes × Weight, each placed by
// hashing the backend's ID with the point's index. A point's position
// depends on nothing else, so when a backend joins or leaves only the keys
// of the arcs it owns move (envoy#22558 is what happens otherwise: ring
// sizes normalised over the whole pool reshuffle everyone).
//
// A key goes to the owner of the first point clockwise from the key's hash;
// unusable owners are passed over for the next point. Lookup is O(1)
// expected: a bucket table indexed by the hash's top bits says where in the
// sorted point array to start, and the array is sized so that a bucket
// holds about one point.
//
// With Options.BoundedLoad = c > 0 (consistent hashing with bounded loads,
// Mirrokni, Thorup, Zadimoghaddam 2018; Envoy's hash_balance_factor), a
// backend already holding ceil(c·(T+1)/n) requests is passed over as well,
// where T is the pool's total in-flight and n its member count. Placing a
// request therefore never lifts a backend above ceil(c·m/n) with m the
// total after placing it, i.e. max/mean <= c + n/m. Unavailable members
// still count in n: that makes the bound stricter, never looser. T is
// maintained through the in-flight tracker hook, so a bounded ring costs
// two atomic operations per Acquire/Release; an unbounded one costs none.
type consistentHash struct {
	vnodes int
	bound  float64
	mu     sync.Mutex // serialises Update
	ring   atomic.Pointer[ring]
}

// maxPointsPerBackend caps VirtualNodes × Weight. Capping per backend
// (rather than scaling the whole ring) keeps placement independent of the
// rest of the pool; weights above maxPointsPerBackend/VirtualNodes (51 at
// the default) saturate.
const maxPointsPerBackend = 1 << 13

type ring struct {
	members []*upstream.Backend
	ids     []uint64 // hash of each member's ID
	hashes  []uint64 // sorted point positions
	owners  []uint32 // member index of each point
	buckets []uint32 // buckets[h>>shift]: first point at or after the bucket's start
	shift   uint

	// Bounded loads only.
	total atomic.Int64 // in-flight summed over members, kept by slots
	slots []ringSlot
}

func newConsistentHash(o Options) *consistentHash {
	return &consistentHash{vnodes: o.VirtualNodes, bound: o.BoundedLoad}
}

// pointHash places a backend's j-th point: splitmix64 steps from the ID's
// hash, so the sequence is a function of the ID alone.
func pointHash(id uint64, j int) uint64 {
	return mix64(id + uint64(j+1)*0x9e3779b97f4a7c15)
}

func newRing(members []*upstream.Backend, vnodes int) *ring {
	type point struct {
		hash  uint64
		owner uint32
	}
	var pts []point
	ids := make([]uint64, len(members))
	for i, b := range members {
		ids[i] = hashBytes(b.ID())
		for j := range min(vnodes*b.Weight(), maxPointsPerBackend) {
			pts = append(pts, point{pointHash(ids[i], j), uint32(i)})
		}
	}
	// Equal positions (two backends with one ID) are ordered by ID, then
	// by list position, so the owner does not depend on build order more
	// than it must.
	slices.SortFunc(pts, func(a, b point) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		if c := cmp.Compare(members[a.owner].ID(), members[b.owner].ID()); c != 0 {
			return c
		}
		return cmp.Compare(a.owner, b.owner)
	})
	rg := &ring{
		members: members,
		ids:     ids,
		hashes:  make([]uint64, len(pts)),
		owners:  make([]uint32, len(pts)),
	}
	for i, p := range pts {
		rg.hashes[i], rg.owners[i] = p.hash, p.owner
	}
	// About one point per bucket: the smallest power of two >= points.
	logBuckets := uint(0)
	for 1<<logBuckets < len(pts) {
		logBuckets++
	}
	rg.shift = 64 - logBuckets
	rg.buckets = make([]uint32, 1<<logBuckets)
	p := 0
	for k := range rg.buckets {
		start := uint64(k) << rg.shift
		for p < len(pts) && rg.hashes[p] < start {
			p++
		}
		rg.buckets[k] = uint32(p)
	}
	return rg
}

// ringSlot keeps the ring's total in-flight count for bounded loads. It
// publishes the member's count with Swap and adds the difference, so the
// total telescopes to the sum of the last published counts; re-reading
// after the swap makes the last writer publish the latest count.
type ringSlot struct {
	rg   *ring
	seen atomic.Int64
}

func (s *ringSlot) InflightChanged(b *upstream.Backend) {
	for {
		cur := b.Inflight()
		if old := s.seen.Swap(cur); old != cur {
			s.rg.total.Add(cur - old)
		}
		if b.Inflight() == cur {
			return
		}
	}
}

func (c *consistentHash) Update(members []*upstream.Backend) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := distinct(members)
	rg := newRing(m, c.vnodes)
	if c.bound > 0 {
		rg.slots = make([]ringSlot, len(m))
		for i, b := range m {
			rg.slots[i].rg = rg
			b.SetTracker(&rg.slots[i])
		}
		for i, b := range m {
			rg.slots[i].InflightChanged(b)
		}
	}
	old := c.ring.Swap(rg)
	if old == nil || c.bound == 0 {
		return
	}
	untrackDropped(old.members, m)
}

// maxWalk bounds the clockwise walk past unusable or full owners before
// falling back to a scan of the members; with the default 160 points per
// backend it covers dozens of distinct backends.
const maxWalk = 1024

func (c *consistentHash) Pick(r *Request) *upstream.Backend {
	rg := c.ring.Load()
	if rg == nil || len(rg.hashes) == 0 {
		return nil
	}
	h := mix64(r.Hash)
	n := len(rg.hashes)
	i := int(rg.buckets[h>>rg.shift])
	for i < n && rg.hashes[i] < h {
		i++
	}
	limit := int64(math.MaxInt64)
	if c.bound > 0 {
		limit = int64(math.Ceil(c.bound * float64(rg.total.Load()+1) / float64(len(rg.members))))
	}
	// The least-loaded usable owner met on the way answers when every one
	// is full or turned down by slow start (so Pick returns nil only when
	// no member is usable).
	var fallback *upstream.Backend
	var fallbackLoad int64
	for range min(n, maxWalk) {
		if i == n {
			i = 0
		}
		o := rg.owners[i]
		i++
		b := rg.members[o]
		if !usable(b, r) {
			continue
		}
		load := b.Inflight()
		// Slow start: a coin drawn from the key and the backend, so a
		// stable, growing set of keys is let through while it ramps.
		f := b.SlowStartFactor(r.Now)
		if load < limit && (f >= 1 || unit(mix64(h^rg.ids[o])) < f) {
			return b
		}
		if fallback == nil || load < fallbackLoad {
			fallback, fallbackLoad = b, load
		}
	}
	if fallback != nil {
		return fallback
	}
	g := rng{h}
	return scanWeighted(rg.members, r, &g)
}
