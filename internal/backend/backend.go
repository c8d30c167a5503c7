// Package backend names one backend as the parts that find, start and
// balance backends all see it: discovery publishes these, the local
// actuator starts them, and the gateway's pools balance over them
// (gateway/upstream.Spec is this type). It lives outside gateway/ and
// autoscaler/ so that neither imports the other's insides.
package backend

// Spec is the configuration of one backend.
type Spec struct {
	ID      string // stable identity; defaults to Address
	Address string // host:port
	Weight  int    // >= 1
}
