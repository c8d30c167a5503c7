package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drawbridge-dev/drawbridge/gateway/failover"
)

// RegisterFailover publishes the failover controller's role and fencing
// token in reg, with transitions (NewTransitionCounter).
func RegisterFailover(reg *prometheus.Registry, c *failover.Controller, transitions *prometheus.CounterVec) {
	for _, role := range []failover.Role{failover.Active, failover.Passive} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "drawbridge_failover_role", Help: "1 for the role this gateway has now (active or passive).",
			ConstLabels: prometheus.Labels{"role": string(role), "node": c.Node()},
		}, func() float64 {
			if c.Status().Role == role {
				return 1
			}
			return 0
		}))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "drawbridge_failover_token", Help: "The fencing token of the lease last seen (held, or held by the peer).",
		ConstLabels: prometheus.Labels{"node": c.Node()},
	}, func() float64 { return float64(c.Status().Token) }))
	reg.MustRegister(transitions)
}

// NewTransitionCounter counts failover role changes by the role entered.
func NewTransitionCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drawbridge_failover_transitions_total", Help: "Role changes of this gateway, by the role entered.",
	}, []string{"to"})
}
