package balance

import "github.com/drawbridge-dev/drawbridge/gateway/upstream"

// leastResponseTime is P2C over peak-EWMA cost (Finagle/Linkerd): cost is
// LatencyCost(now) * (in-flight + 1) / effective weight.
//
// A candidate with no latency information (cost 0) is tried: it wins
// unless it already holds more in-flight per unit of weight than the other
// candidate. So a newcomer is measured at once, but is not flooded while
// its first responses are on their way, as "unknown always wins" would do.
//
// A backend that was slow is never starved (traefik#12306): LatencyCost
// decays toward 0 while the backend goes unobserved, so once it is avoided
// its cost sinks below its peers' within idleDecay·ln(cost ratio) (17s for
// 300ms against 10ms) and it is tried again. Random probes (sending a small
// share of picks to the first candidate regardless of cost) were tried and
// dropped: every probe refreshes the observation stamp, which suspends the
// idle decay, and the time-based EWMA moves a sparsely sampled backend only
// by dt/10s per sample, so probes slowed recovery in simulation (107s vs 95s
// back to a fair share, TestLeastResponseTimeRecovery) while costing 1-2%
// of traffic on a slow backend.
type leastResponseTime struct{ weightedMembers }

func (l *leastResponseTime) Pick(r *Request) *upstream.Backend {
	a, wa, b, wb := l.pair(r)
	if b == nil {
		return a
	}
	ca, cb := a.LatencyCost(r.Now), b.LatencyCost(r.Now)
	ia, ib := float64(a.Inflight()), float64(b.Inflight())
	switch {
	case ca == 0 && cb == 0:
		if ib*wa < ia*wb {
			return b
		}
		return a
	case ca == 0:
		if ia*wb <= ib*wa {
			return a
		}
		return b
	case cb == 0:
		if ib*wa <= ia*wb {
			return b
		}
		return a
	}
	// cost/weight, compared cross-multiplied.
	if cb*(ib+1)*wa < ca*(ia+1)*wb {
		return b
	}
	return a
}
