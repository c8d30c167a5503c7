package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type daemonMetrics struct {
	decisions      *prometheus.CounterVec
	desired        *prometheus.GaugeVec
	current        *prometheus.GaugeVec
	minCap, maxCap *prometheus.GaugeVec
	inService      *prometheus.GaugeVec
	load           *prometheus.GaugeVec
	sourceErrors   *prometheus.CounterVec
	actuatorErrors *prometheus.CounterVec
	storeErrors    prometheus.Counter
	leaseHeld      prometheus.Gauge
	leaseToken     prometheus.Gauge
	leaseErrors    prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, _ *Daemon) *daemonMetrics {
	f := promauto.With(reg)
	counters := func(name, help string, labels ...string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	counter := func(name, help string) prometheus.Counter {
		return f.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return f.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	// groupGauge is a gauge with one series per group.
	groupGauge := func(name, help string) *prometheus.GaugeVec {
		return f.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"group"})
	}
	return &daemonMetrics{
		decisions: counters("drawbridge_autoscaler_decisions_total", "Decision rounds, by group and direction (out, in, hold).", "group", "direction"),
		desired:   groupGauge("drawbridge_autoscaler_desired_capacity", "Desired capacity decided in the last round."),
		current:   groupGauge("drawbridge_autoscaler_current_capacity", "Desired capacity the actuator reported before the last round."),
		// The bounds in force (scheduled actions change them), so alerts can
		// compare desired with max: "at max" means the policies want more.
		minCap:         groupGauge("drawbridge_autoscaler_min_capacity", "Minimum capacity in force in the last round (configured or scheduled)."),
		maxCap:         groupGauge("drawbridge_autoscaler_max_capacity", "Maximum capacity in force in the last round (configured or scheduled)."),
		inService:      groupGauge("drawbridge_autoscaler_in_service_instances", "Instances in service and past warm-up."),
		load:           groupGauge("drawbridge_autoscaler_load", "Newest load datapoint of the group's metric source."),
		sourceErrors:   counters("drawbridge_autoscaler_metric_source_errors_total", "Failed metric source queries.", "group"),
		actuatorErrors: counters("drawbridge_autoscaler_actuator_errors_total", "Failed actuator calls, by operation.", "group", "op"),
		storeErrors:    counter("drawbridge_autoscaler_state_store_errors_total", "Failed writes of persisted state."),
		leaseHeld:      gauge("drawbridge_autoscaler_lease_held", "1 if this replica holds the lease and acts."),
		leaseToken:     gauge("drawbridge_autoscaler_lease_token", "Fencing token of the lease as last seen."),
		leaseErrors:    counter("drawbridge_autoscaler_lease_errors_total", "Failed lease acquisitions or renewals."),
	}
}
