package daemon

import "github.com/prometheus/client_golang/prometheus"

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
	m := &daemonMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drawbridge_autoscaler_decisions_total", Help: "Decision rounds, by group and direction (out, in, hold).",
		}, []string{"group", "direction"}),
		desired: groupGauge("drawbridge_autoscaler_desired_capacity", "Desired capacity decided in the last round."),
		current: groupGauge("drawbridge_autoscaler_current_capacity", "Desired capacity the actuator reported before the last round."),
		// The bounds in force (scheduled actions change them), so alerts can
		// compare desired with max: "at max" means the policies want more.
		minCap:    groupGauge("drawbridge_autoscaler_min_capacity", "Minimum capacity in force in the last round (configured or scheduled)."),
		maxCap:    groupGauge("drawbridge_autoscaler_max_capacity", "Maximum capacity in force in the last round (configured or scheduled)."),
		inService: groupGauge("drawbridge_autoscaler_in_service_instances", "Instances in service and past warm-up."),
		load:      groupGauge("drawbridge_autoscaler_load", "Newest load datapoint of the group's metric source."),
		sourceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drawbridge_autoscaler_metric_source_errors_total", Help: "Failed metric source queries.",
		}, []string{"group"}),
		actuatorErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drawbridge_autoscaler_actuator_errors_total", Help: "Failed actuator calls, by operation.",
		}, []string{"group", "op"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "drawbridge_autoscaler_state_store_errors_total", Help: "Failed writes of persisted state.",
		}),
		leaseHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "drawbridge_autoscaler_lease_held", Help: "1 if this replica holds the lease and acts.",
		}),
		leaseToken: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "drawbridge_autoscaler_lease_token", Help: "Fencing token of the lease as last seen.",
		}),
		leaseErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "drawbridge_autoscaler_lease_errors_total", Help: "Failed lease acquisitions or renewals.",
		}),
	}
	reg.MustRegister(m.decisions, m.desired, m.current, m.minCap, m.maxCap, m.inService, m.load, m.sourceErrors,
		m.actuatorErrors, m.storeErrors, m.leaseHeld, m.leaseToken, m.leaseErrors)
	return m
}

// groupGauge is a gauge with one series per group.
func groupGauge(name, help string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"group"})
}
