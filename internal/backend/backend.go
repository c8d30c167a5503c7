// Package backend names one backend as the parts that find, start and
// balance backends all see it: discovery publishes these, the local
// actuator starts them, and the gateway's pools balance over them
// (gateway/upstream.Spec is this type). It lives outside gateway/ and
// autoscaler/ so that neither imports the other's insides.
package backend

// Spec is the configuration of one backend; it is also an entry of an l4
// listener's backends list in the gateway's file, so the comments on its
// keys are that reference's text. Built in Go, a Weight below 1 counts as 1.
type Spec struct {
	ID      string `yaml:"id"`      // unique in the list; default Address
	Address string `yaml:"address"` // host:port, port 1..65535; required
	Weight  int    `yaml:"weight"`  // 1..1000; default 1
}

func (s *Spec) SetDefaults() { s.Weight = 1 }
