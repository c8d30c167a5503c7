// Package failover runs active-passive high availability for the gateway,
// the way keepalived (VRRP) or an AWS Elastic IP failover script does: the
// active node holds a lease with a fencing token, renews it every ttl/3 and
// owns the shared address (a virtual IP moved with `ip addr` plus
// gratuitous ARP, or an Elastic IP reassociated with AssociateAddress).
// The passive node keeps trying the lease and takes it, then the address,
// once the active stops renewing.
//
// Split brain is prevented by time, not by hope: the active serves only
// until (start of its last successful renewal) + ttl - margin, which is
// always before the lease can expire for anybody else. A node that cannot
// renew stops answering at that instant even if its timers and its `ip
// addr del` run late (a frozen process), because every request checks
// Fence.
package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/lease"
)

// Lease is the mutual-exclusion primitive: internal/lease's File (flock'd
// JSON file, local mode) and DynamoDB (conditional writes, AWS) implement
// it with the semantics this package relies on: expiry judged by the
// caller's clock, a token that grows whenever the lease changes hands.
type Lease = lease.Lease

// Address is the shared address the active node owns.
type Address interface {
	// Acquire makes the address point at this node. It is idempotent.
	Acquire(ctx context.Context) error
	// Release stops this node from receiving traffic on the address, if
	// that is something the node can do (a VIP is deleted; an Elastic IP
	// is simply reassociated by the next holder). It is idempotent.
	Release(ctx context.Context) error
	String() string
}

// Role is active or passive.
type Role string

const (
	Active  Role = "active"
	Passive Role = "passive"
)

// Config configures a Controller.
type Config struct {
	Node    string        // this node's name, the lease holder id; required
	TTL     time.Duration // lease lifetime; required
	Renew   time.Duration // renewal period; default TTL/3
	Margin  time.Duration // stop serving this long before the lease expires; default TTL/4
	Lease   Lease         // required
	Address Address       // nil: no shared address (fencing only)
	Clock   clock.Clock   // default clock.Real
	Log     *slog.Logger  // default slog.Default()
	// OnTransition, if set, hears every role change (metrics, logs).
	OnTransition func(Transition)
}

// Transition is a change of role.
type Transition struct {
	At     time.Time `json:"at"`
	From   Role      `json:"from"`
	To     Role      `json:"to"`
	Token  uint64    `json:"token"`
	Reason string    `json:"reason"`
}

// Status is the operator's view of the controller.
type Status struct {
	Node string `json:"node"`
	Role Role   `json:"role"`
	// Holder is the lease holder when this node knows it ("" otherwise:
	// a passive node only learns the current token).
	Holder      string      `json:"lease_holder,omitempty"`
	Token       uint64      `json:"token"`
	Address     string      `json:"address,omitempty"`
	AddressHeld bool        `json:"address_held"`
	ValidUntil  time.Time   `json:"valid_until,omitzero"`
	LastError   string      `json:"last_error,omitempty"`
	Last        *Transition `json:"last_transition,omitempty"`
}

// serving is the immutable fence the request path reads.
type serving struct {
	token uint64
	until time.Time
}

// Controller runs the lease loop and moves the address.
type Controller struct {
	cfg   Config
	fence atomic.Pointer[serving] // nil while passive

	addrMu sync.Mutex // serialises calls to the Address

	mu          sync.Mutex // guards everything below
	role        Role
	holder      string // as last read by a passive node
	token       uint64
	until       time.Time
	addressHeld bool
	lastErr     string
	last        *Transition
	watchdog    clock.Timer
}

// New checks cfg and returns a passive controller.
func New(cfg Config) (*Controller, error) {
	if cfg.Node == "" || cfg.TTL <= 0 || cfg.Lease == nil {
		return nil, errors.New("failover: node, ttl and lease are required")
	}
	if cfg.Renew <= 0 {
		cfg.Renew = cfg.TTL / 3
	}
	if cfg.Margin <= 0 {
		cfg.Margin = cfg.TTL / 4
	}
	if cfg.Renew+cfg.Margin >= cfg.TTL {
		return nil, fmt.Errorf("failover: renew (%v) + margin (%v) must be less than ttl (%v)", cfg.Renew, cfg.Margin, cfg.TTL)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Controller{cfg: cfg, role: Passive}, nil
}

// Fence reports the fencing token to stamp on a response, and whether this
// node may serve on the shared address right now.
func (c *Controller) Fence() (uint64, bool) {
	s := c.fence.Load()
	if s == nil || !c.cfg.Clock.Now().Before(s.until) {
		return 0, false
	}
	return s.token, true
}

// Node is this node's name.
func (c *Controller) Node() string { return c.cfg.Node }

// Status reports the current role, token and last transition.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{Node: c.cfg.Node, Role: c.role, Token: c.token, AddressHeld: c.addressHeld, LastError: c.lastErr, Last: c.last}
	if c.cfg.Address != nil {
		st.Address = c.cfg.Address.String()
	}
	if c.role == Active {
		st.Holder, st.ValidUntil = c.cfg.Node, c.until
	} else {
		st.Holder = c.holder
	}
	return st
}

// Run takes part in the election until ctx ends, then steps down and
// releases the lease so the peer takes over without waiting for expiry.
func (c *Controller) Run(ctx context.Context) error {
	// A restarted node may still have the address from its previous life
	// (a VIP survives the process): a passive node must not hold it.
	if a := c.cfg.Address; a != nil {
		if err := a.Release(ctx); err != nil {
			c.cfg.Log.Warn("failover: releasing the address at start", "address", a.String(), "error", err.Error())
		}
	}
	t := c.cfg.Clock.NewTicker(c.cfg.Renew)
	defer t.Stop()
	c.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			c.stepDown("shutdown")
			rctx, cancel := context.WithTimeout(context.Background(), c.cfg.Renew)
			defer cancel()
			if err := c.cfg.Lease.Release(rctx, c.cfg.Node); err != nil {
				c.cfg.Log.Warn("failover: releasing the lease", "error", err.Error())
			}
			return nil
		case <-t.C():
			c.tick(ctx)
		}
	}
}

// tick renews or tries the lease once.
func (c *Controller) tick(ctx context.Context) {
	start := c.cfg.Clock.Now()
	// A call that outlives a renewal period is as good as failed; bounding
	// it keeps the loop on schedule.
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Renew)
	held, token, err := c.cfg.Lease.TryAcquire(cctx, c.cfg.Node, c.cfg.TTL)
	cancel()
	if ctx.Err() != nil {
		return
	}
	switch {
	case err != nil:
		c.mu.Lock()
		first := c.lastErr == ""
		c.lastErr = err.Error()
		c.mu.Unlock()
		// One line per outage, not one per renewal period: the status page
		// carries the latest error while it lasts.
		if first {
			c.cfg.Log.Warn("failover: cannot reach the lease; passive until it answers, retrying every renewal period", "error", err.Error())
		}
		// The watchdog steps down when the validity runs out.
	case held:
		c.mu.Lock()
		recovered := c.lastErr != ""
		c.lastErr = ""
		c.mu.Unlock()
		if recovered {
			c.cfg.Log.Info("failover: lease reachable again")
		}
		c.holding(ctx, start, token)
	default:
		c.mu.Lock()
		if c.lastErr != "" {
			c.cfg.Log.Info("failover: lease reachable again")
		}
		c.lastErr, c.token = "", token
		active := c.role == Active
		c.mu.Unlock()
		if active {
			c.stepDown(fmt.Sprintf("lease taken over (token %d)", token))
		}
		c.readHolder(ctx)
	}
}

// readHolder learns who holds the lease, for the status page, when the
// lease can tell.
func (c *Controller) readHolder(ctx context.Context) {
	hr, ok := c.cfg.Lease.(lease.HolderReader)
	if !ok {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Renew)
	defer cancel()
	h, err := hr.Holder(cctx)
	if err != nil {
		h = ""
	}
	c.mu.Lock()
	c.holder = h
	c.mu.Unlock()
}

// holding records a successful acquire or renewal made at start.
func (c *Controller) holding(ctx context.Context, start time.Time, token uint64) {
	until := start.Add(c.cfg.TTL - c.cfg.Margin)
	now := c.cfg.Clock.Now()
	if !now.Before(until) {
		return // the answer came too late to serve on
	}
	c.mu.Lock()
	from := c.role
	c.role, c.token, c.until = Active, token, until
	// Serve before the address moves, so the first request to arrive on
	// it is answered.
	c.fence.Store(&serving{token: token, until: until})
	if c.watchdog != nil {
		c.watchdog.Stop()
	}
	c.watchdog = c.cfg.Clock.AfterFunc(until.Sub(now), func() { c.expire(until) })
	var tr *Transition
	if from != Active {
		tr = &Transition{At: now, From: from, To: Active, Token: token, Reason: "lease acquired"}
		c.last = tr
	}
	c.mu.Unlock()
	if tr != nil {
		c.cfg.Log.Info("failover: active", "node", c.cfg.Node, "token", token)
		c.notify(*tr)
	}
	c.takeAddress(ctx)
}

// takeAddress acquires the shared address if this node is active and does
// not hold it yet; it is retried on every renewal until it works.
func (c *Controller) takeAddress(ctx context.Context) {
	a := c.cfg.Address
	if a == nil {
		return
	}
	c.addrMu.Lock()
	defer c.addrMu.Unlock()
	c.mu.Lock()
	need := c.role == Active && !c.addressHeld
	c.mu.Unlock()
	if !need {
		return
	}
	err := a.Acquire(ctx)
	c.mu.Lock()
	active := c.role == Active
	switch {
	case err != nil:
		c.lastErr = fmt.Sprintf("acquire %s: %v", a, err)
	case active:
		c.addressHeld = true
	}
	c.mu.Unlock()
	switch {
	case err != nil:
		c.cfg.Log.Error("failover: cannot take the shared address", "address", a.String(), "error", err.Error())
	case !active:
		// Stepped down while acquiring: stepDown's release ran before
		// this acquire finished (it waits on addrMu), so undo it here.
		c.releaseAddress()
	default:
		c.cfg.Log.Info("failover: shared address taken", "address", a.String())
	}
}

// releaseAddress gives the address up; the caller holds addrMu.
func (c *Controller) releaseAddress() {
	a := c.cfg.Address
	// A fresh context: stepping down must happen even on shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.Release(ctx)
	c.mu.Lock()
	c.addressHeld = false
	if err != nil {
		c.lastErr = fmt.Sprintf("release %s: %v", a, err)
	}
	c.mu.Unlock()
	if err != nil {
		c.cfg.Log.Error("failover: cannot release the shared address", "address", a.String(), "error", err.Error())
	}
}

// expire steps down when the validity that armed it was not extended.
func (c *Controller) expire(until time.Time) {
	c.mu.Lock()
	stale := c.role == Active && c.until.Equal(until)
	c.mu.Unlock()
	if stale {
		c.stepDown("lease not renewed in time")
	}
}

// stepDown stops serving at once, then gives up the address.
func (c *Controller) stepDown(reason string) {
	c.mu.Lock()
	c.fence.Store(nil)
	if c.watchdog != nil {
		c.watchdog.Stop()
		c.watchdog = nil
	}
	if c.role != Active {
		c.mu.Unlock()
		return
	}
	c.role = Passive
	tr := Transition{At: c.cfg.Clock.Now(), From: Active, To: Passive, Token: c.token, Reason: reason}
	c.last = &tr
	c.mu.Unlock()
	c.cfg.Log.Warn("failover: passive", "node", c.cfg.Node, "reason", reason)
	if c.cfg.Address != nil {
		c.addrMu.Lock()
		c.releaseAddress()
		c.addrMu.Unlock()
	}
	c.notify(tr)
}

func (c *Controller) notify(tr Transition) {
	if c.cfg.OnTransition != nil {
		c.cfg.OnTransition(tr)
	}
}
