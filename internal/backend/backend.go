// Package backend names one backend as the parts that find, start and
// balance backends all see it: discovery publishes these, the local
// actuator starts them, and the gateway's pools balance over them
// (gateway/upstream.Spec is this type). It lives outside gateway/ and
// autoscaler/ so that neither imports the other's insides.
package backend

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Spec is the configuration of one backend; it is also an entry of an l4
// listener's backends list in the gateway's file, so the comments on its
// keys are that reference's text. Built in Go, a Weight below 1 counts as 1.
type Spec struct {
	ID      string `yaml:"id"`      // unique in the list; default Address
	Address string `yaml:"address"` // host:port, port 1..65535; required
	Weight  int    `yaml:"weight"`  // 1..1000; default 1
}

func (s *Spec) SetDefaults() { s.Weight = 1 }

// CheckAddress says what is wrong with a backend address, nil if nothing:
// it must be host:port with a host and a port 1..65535. The gateway's pools
// and l4 listeners check their backends with it, so both word it alike.
func CheckAddress(addr string) error {
	if addr == "" {
		return errors.New("required")
	}
	host, port, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
		return fmt.Errorf("invalid address %q: %s", addr, AddrError(err))
	case host == "":
		return fmt.Errorf("invalid address %q: host is required", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid port %q in %q; want 1-65535", port, addr)
	}
	return nil
}

// AddrError is err's message without net's repetition of the address.
func AddrError(err error) string {
	if ae := (*net.AddrError)(nil); errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}
