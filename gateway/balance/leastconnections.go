package balance

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// leastConnections picks the usable backend with the smallest
// (in-flight + 1) / effective weight, exactly.
//
// The index is a tournament tree of minimums over the members' keys, kept
// by the upstream.InflightTracker hook. The leaves are the keys, packed
// lcLeaves to a cache line; above them sit inner nodes of fanout lcFanout
// (two levels for 1,000 members).
//
// The tree holds lower bounds, not exact keys: a key that drops (Release)
// is written through at once, since it may be the new minimum, but a key
// that rises (Acquire) is left as it is and repaired only when a pick
// lands on it and finds the live key higher. An Acquire followed by its
// Release before anyone looks therefore costs two loads and no write, and
// Go's atomic stores are full barriers (XCHG on amd64) that cost more than
// the whole rest of the hook. Pick checks the live key of whatever it lands
// on, so the answer stays exact: a member whose live key equals the root
// (the minimum of all lower bounds) is a true minimum.
//
// Pick first probes a few members uniformly at random for one at the
// root's key: under light load most members tie at the minimum, and a hit
// is an exactly uniform choice among the tied. Otherwise it walks down the
// tree, at each level to a minimal child, breaking ties at random in
// proportion to the members underneath, and uniformly among tied leaves.
// That is uniform when all tie (an idle pool is spread evenly, not piled
// onto the front of the list as by a "first minimum wins" scan); when only
// a few tie, a tied member alone in its subtree is favoured over tied
// members sharing one, a random bias that follows the tree, not the list
// order, and lasts only until the next pick changes the tie. Both paths
// read one Backend: the one they return.
//
// Availability, Exclude and slow start are not in the tree (the upstream
// package does not announce flag changes). When the member found is
// unusable or ramping, Pick runs a branch-and-bound search over the lower
// bounds that skips unusable members and stays exact; it costs O(n) only
// when most of the pool is unusable.
//
// The tree is lock-free. Every write is "store, then re-read the inputs and
// store again until they agree"; all atomics are sequentially consistent,
// so the last writer has validated against the latest inputs, and whenever
// the counters are quiet every node is the minimum of its inputs and every
// leaf at most its member's key.
//
// Keys are float32 bit patterns, which for positive values order like the
// values, so nodes compare as plain uint32s. A key is (in-flight+1) times
// the float64 reciprocal of the weight, rounded to float32: that equals the
// correctly rounded quotient for any weight below 2^26, so equal ratios
// such as 2/2 and 1/1 give equal keys and ties are exact, without a
// division on the hot path.
type leastConnections struct {
	mu   sync.Mutex // serialises Update; Pick never takes it
	tree atomic.Pointer[lcTree]
}

const (
	lcLeaves = 16 // member keys under one bottom node: one 64-byte cache line
	lcFanout = 8  // children per inner node
	// lcProbes is how many members Pick samples for one at the minimum
	// before walking the tree. With 1,000 backends and 100 requests in
	// flight, 90% of members sit at zero and the first probe hits; with a
	// quarter tied (BenchmarkPick's pool), 8 probes miss 10% of the time;
	// when few tie, the misses cost a few L1 loads. (2, 4, 8 and 16 probes
	// measured 56, 50, 46 and 46 ns per BenchmarkPick op.)
	lcProbes = 8
	// lcRepairs bounds the stale lower bounds one Pick repairs before it
	// leaves the rest to the exact search.
	lcRepairs = 4
)

type lcTree struct {
	members []*upstream.Backend
	inv     []float64 // 1/Weight() of each member
	// leaves[i] is a lower bound of member i's key; past the members,
	// lcEmpty. Allocated in whole cache lines (power-of-two sizes are
	// aligned by the allocator).
	leaves []atomic.Uint32
	// levels[h] holds lcFanout^h node keys: levels[0] is the root,
	// levels[depth] the bottom nodes, node g of which is the minimum of
	// leaves[g*lcLeaves:][:lcLeaves]; the children of inner node j of level
	// h are levels[h+1][j*lcFanout:][:lcFanout].
	levels [][]atomic.Uint32
	depth  int
	span   []int // members under one node of each level
	slots  []lcSlot
}

// lcEmpty (+Inf) marks an empty leaf or node; every real key is finite.
var lcEmpty = math.Float32bits(float32(math.Inf(1)))

// lcKey is the ordering key (inflight+1)/weight as float32 bits, given
// inv = 1/weight.
func lcKey(inflight int64, inv float64) uint32 {
	return math.Float32bits(float32(float64(max(inflight, 0)+1) * inv))
}

// lcSlot is one member's tracker: it knows its leaf, so the hook costs no
// lookup. A slot of a replaced tree may still be called by a Release that
// raced with Update; it then updates the old, unpublished tree: harmless.
type lcSlot struct {
	t *lcTree
	i int
}

// InflightChanged writes a dropped key through; a risen one waits for a
// pick to find it (see leastConnections).
func (s *lcSlot) InflightChanged(*upstream.Backend) {
	if s.t.live(s.i) < s.t.leaves[s.i].Load() {
		s.t.update(s.i)
	}
}

func newLCTree(members []*upstream.Backend) *lcTree {
	t := &lcTree{
		members: members,
		inv:     make([]float64, len(members)),
		slots:   make([]lcSlot, len(members)),
	}
	width := 1 // bottom nodes
	for width*lcLeaves < len(members) {
		width *= lcFanout
		t.depth++
	}
	t.leaves = make([]atomic.Uint32, width*lcLeaves)
	for i := range t.leaves {
		t.leaves[i].Store(lcEmpty)
	}
	for i, b := range members {
		t.inv[i] = 1 / float64(b.Weight())
		t.slots[i] = lcSlot{t: t, i: i}
		t.leaves[i].Store(t.live(i))
	}
	t.levels = make([][]atomic.Uint32, t.depth+1)
	t.span = make([]int, t.depth+1)
	for h, w := t.depth, width; h >= 0; h, w = h-1, w/lcFanout {
		t.levels[h] = make([]atomic.Uint32, w)
		t.span[h] = width / w * lcLeaves
		for j := range w {
			t.levels[h][j].Store(t.inputMin(h, j))
		}
	}
	return t
}

// live is member i's current key at full weight.
func (t *lcTree) live(i int) uint32 { return lcKey(t.members[i].Inflight(), t.inv[i]) }

// inputMin is the minimum of the inputs of node j of level h: its leaves
// at the bottom level, its children above.
func (t *lcTree) inputMin(h, j int) uint32 {
	in, n := t.leaves, lcLeaves
	if h < t.depth {
		in, n = t.levels[h+1], lcFanout
	}
	in = in[j*n:][:n]
	k := lcEmpty
	for i := range in {
		k = min(k, in[i].Load())
	}
	return k
}

// update writes member i's live key to its leaf and brings the nodes above
// up to date, walking up only while a node's value changes: a node that
// already holds the right value was written by someone who walks (or
// walked) the rest of the path.
func (t *lcTree) update(i int) {
	leaf := &t.leaves[i]
	old, k := leaf.Load(), t.live(i)
	if old == k {
		return
	}
	for {
		leaf.Store(k)
		next := t.live(i)
		if next >= k {
			break // a rise since is covered: the leaf is a lower bound
		}
		k = next
	}
	h, j := t.depth, i/lcLeaves
	// A leaf that neither was nor became its node's minimum leaves the node
	// as it is. (A writer that made the node stale meanwhile validates its
	// own store after this one's.)
	if node := t.levels[h][j].Load(); old > node && k >= node {
		return
	}
	for changed := true; changed && h >= 0; h, j = h-1, j/lcFanout {
		changed = false
		for {
			k := t.inputMin(h, j)
			if t.levels[h][j].Load() == k {
				break
			}
			t.levels[h][j].Store(k)
			changed = true
		}
	}
}

func (lc *leastConnections) Update(members []*upstream.Backend) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	m := distinct(members)
	t := newLCTree(m)
	// Hook first, then update: a change between building the tree and
	// hooking went to the old tree, and the update picks it up.
	for i, b := range m {
		b.SetTracker(&t.slots[i])
	}
	for i := range m {
		t.update(i)
	}
	old := lc.tree.Swap(t)
	if old == nil {
		return
	}
	untrackDropped(old.members, m)
}

func (lc *leastConnections) Pick(r *Request) *upstream.Backend {
	t := lc.tree.Load()
	if t == nil || len(t.members) == 0 {
		return nil
	}
	return t.pick(r)
}

// pick finds a member whose leaf holds the root's key, by probing and
// then by walking down, and returns it if its live key is that key and it
// may take r at full weight. A stale leaf is repaired and the search
// resumed; anything else (unusable, excluded, ramping) goes to the exact
// search.
func (t *lcTree) pick(r *Request) *upstream.Backend {
	var rnd lcRand
	n := uint64(len(t.members))
	for range lcRepairs {
		root := t.levels[0][0].Load()
		i := -1
		for range lcProbes {
			if x := int(rnd.take32() * n >> 32); t.leaves[x].Load() == root {
				i = x
				break
			}
		}
		if i < 0 {
			if i = t.descend(&rnd); i < 0 {
				break
			}
		}
		b := t.members[i]
		if !usable(b, r) || b.SlowStartFactor(r.Now) < 1 {
			break
		}
		if t.live(i) <= root {
			return b
		}
		t.update(i)
	}
	b, _ := t.search(0, 0, r, lcEmpty, &rnd)
	return b
}

// descend walks from the root to a leaf holding the root's key, choosing
// among tied children at random; -1 if concurrent churn emptied the path.
func (t *lcTree) descend(rnd *lcRand) int {
	j := 0
	for h := range t.depth {
		kids := t.levels[h+1][j*lcFanout:][:lcFanout]
		low, tied := lcEmpty, uint8(0)
		for c := range kids {
			switch k := kids[c].Load(); {
			case k < low:
				low, tied = k, 1<<c
			case k == low:
				tied |= 1 << c
			}
		}
		if low == lcEmpty {
			return -1
		}
		c := bits.TrailingZeros8(tied)
		if tied&(tied-1) != 0 {
			c = t.choose(h+1, j*lcFanout, tied, rnd)
		}
		j = j*lcFanout + c
	}
	leaves := t.leaves[j*lcLeaves:][:lcLeaves]
	low, tied := lcEmpty, uint16(0)
	for i := range leaves {
		switch k := leaves[i].Load(); {
		case k < low:
			low, tied = k, 1<<i
		case k == low:
			tied |= 1 << i
		}
	}
	if low == lcEmpty {
		return -1
	}
	i := bits.TrailingZeros16(tied)
	if tied&(tied-1) != 0 {
		i = nthBit16(tied, rnd.take16())
	}
	return j*lcLeaves + i
}

// search returns the usable member under node j of level h with the
// smallest effective key below best (nil if none), visiting children in
// key order and pruning those whose stored lower bound is not below the
// best found so far.
func (t *lcTree) search(h, j int, r *Request, best uint32, rnd *lcRand) (*upstream.Backend, uint32) {
	if h == t.depth {
		return t.searchLeaves(j, r, best, rnd)
	}
	kids := t.levels[h+1][j*lcFanout:][:lcFanout]
	var (
		pick *upstream.Backend
		done uint8 // children visited
	)
	for {
		// The unvisited children holding the smallest key below best.
		low, tied := best, uint8(0)
		for c := range kids {
			if done&(1<<c) != 0 {
				continue
			}
			switch k := kids[c].Load(); {
			case k < low:
				low, tied = k, 1<<c
			case k == low && k < best:
				tied |= 1 << c
			}
		}
		if tied == 0 {
			return pick, best
		}
		c := t.choose(h+1, j*lcFanout, tied, rnd)
		done |= 1 << c
		if b, k := t.search(h+1, j*lcFanout+c, r, best, rnd); b != nil {
			pick, best = b, k
		}
		// Every unvisited child is at least low: none can do better.
		if best <= low {
			return pick, best
		}
	}
}

// searchLeaves returns bottom node g's usable member with the smallest
// effective key (weight scaled by slow start) if it is below best; ties
// are broken uniformly.
func (t *lcTree) searchLeaves(g int, r *Request, best uint32, rnd *lcRand) (*upstream.Backend, uint32) {
	var (
		pick *upstream.Backend
		ties uint64
	)
	for i := g * lcLeaves; i < min(g*lcLeaves+lcLeaves, len(t.members)); i++ {
		if t.leaves[i].Load() > best {
			continue // its lower bound is already worse
		}
		b := t.members[i]
		if !usable(b, r) {
			continue
		}
		inv := t.inv[i]
		if f := b.SlowStartFactor(r.Now); f < 1 {
			inv = 1 / (float64(b.Weight()) * f)
		}
		switch k := lcKey(b.Inflight(), inv); {
		case k < best:
			pick, best, ties = b, k, 1
		case k == best && pick != nil:
			// Reservoir sampling: the i-th tie takes over with prob 1/i.
			ties++
			if rnd.take16()*ties>>16 == 0 {
				pick = b
			}
		}
	}
	return pick, best
}

// choose picks one of the tied children (a bit mask over the children
// starting at node first of level h) with probability proportional to the
// members under it, so that tied members are equally likely: a uniform
// draw among the tied children, accepted with probability members/span.
// Only the child on the tree's right edge is partly filled, so the draw is
// almost always accepted at once, and the uniform draw is a table lookup
// rather than a loop: a random choice is, by design, a branch the CPU
// cannot predict.
func (t *lcTree) choose(h, first int, tied uint8, rnd *lcRand) int {
	n := uint64(bits.OnesCount8(tied))
	if n == 1 {
		return bits.TrailingZeros8(tied)
	}
	span := t.span[h]
	for {
		c := int(nthBit[tied][rnd.take16()*n>>16])
		under := len(t.members) - (first+c)*span
		if under >= span || rnd.take32()*uint64(span)>>32 < uint64(under) {
			return c
		}
	}
}

// nthBit16 returns the position of a uniformly chosen set bit of m (which
// must not be 0), given 16 random bits x; branch-free.
func nthBit16(m uint16, x uint64) int {
	lo, hi := uint8(m), uint8(m>>8)
	nlo := uint64(bits.OnesCount8(lo))
	k := x * uint64(bits.OnesCount16(m)) >> 16
	c := int(nthBit[lo][k&7])
	if alt := 8 + int(nthBit[hi][(k-nlo)&7]); k >= nlo {
		c = alt
	}
	return c
}

// nthBit[m][k] is the position of the k-th (from 0) set bit of m.
var nthBit = func() (t [256][8]uint8) {
	for m := range 256 {
		k := 0
		for b := range 8 {
			if m&(1<<b) != 0 {
				t[m][k] = uint8(b)
				k++
			}
		}
	}
	return t
}()

// lcRand hands out random numbers for probes and tie breaks: a 64-bit LCG
// (Knuth's MMIX constants; only its high bits are used, which are the good
// ones) seeded from math/rand/v2 on first use, so one pick costs one
// runtime random number.
type lcRand struct {
	x      uint64
	seeded bool
}

func (r *lcRand) step() uint64 {
	if !r.seeded {
		r.x, r.seeded = rand.Uint64(), true
	}
	r.x = r.x*6364136223846793005 + 1442695040888963407
	return r.x
}

func (r *lcRand) take16() uint64 { return r.step() >> 48 }
func (r *lcRand) take32() uint64 { return r.step() >> 32 }

// untrackDropped detaches the in-flight trackers of the old members that
// are not in m, so a removed backend stops updating a structure it left.
func untrackDropped(old, m []*upstream.Backend) {
	kept := make(map[*upstream.Backend]struct{}, len(m))
	for _, b := range m {
		kept[b] = struct{}{}
	}
	for _, b := range old {
		if _, ok := kept[b]; !ok {
			b.SetTracker(nil)
		}
	}
}
