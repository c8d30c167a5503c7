// Package plan turns a stack's configuration into a validated, typed plan:
// the CIDR layout, the NAT strategy, capacities and schedules. It is pure Go
// (no Pulumi types), so every "bad input" rule runs, and is table-tested,
// before the program creates a single resource.
//
// Every error names the config key it is about ("drawbridge:minSize: ..."),
// so a user can find the line in stacks/Pulumi.<env>.yaml.
package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Namespace is the Pulumi config namespace of the project's own keys.
const Namespace = "drawbridge"

// NAT strategies, named as in terraform-aws-modules/vpc (single_nat_gateway,
// one_nat_gateway_per_az) and pulumi-awsx (None, Single, OnePerAz).
const (
	NATNone     = "none"
	NATSingle   = "single"
	NATOnePerAZ = "one_per_az"
)

// Autoscaler placements: on the gateway instances (the default, no extra
// hosts), or external (only the IAM policy is created, to attach elsewhere).
const (
	PlacementGateway  = "gateway"
	PlacementExternal = "external"
)

// Schedule is one scheduled action on the backend group (AWS semantics:
// a 5-field cron in TimeZone; unset sizes are left unchanged).
type Schedule struct {
	Name            string `json:"name"`
	Recurrence      string `json:"recurrence"`
	TimeZone        string `json:"timeZone,omitempty"`
	StartTime       string `json:"startTime,omitempty"`
	EndTime         string `json:"endTime,omitempty"`
	MinSize         *int   `json:"minSize,omitempty"`
	MaxSize         *int   `json:"maxSize,omitempty"`
	DesiredCapacity *int   `json:"desiredCapacity,omitempty"`
}

// Config is a stack's configuration after defaults and validation.
type Config struct {
	Project     string
	Stack       string
	Environment string
	Owner       string
	Tags        map[string]string // extra tags; project/environment/owner always win
	Region      string

	VPCCIDR             netip.Prefix
	AZCount             int
	AvailabilityZones   []string // optional explicit list (terraform's azs)
	PublicSubnetCIDRs   []netip.Prefix
	PrivateSubnetCIDRs  []netip.Prefix
	PublicSubnetPrefix  int
	PrivateSubnetPrefix int
	NATStrategy         string
	FlowLogs            bool

	AllowedCIDRs        []netip.Prefix
	AdminPort           int
	Arch                string // amd64 | arm64
	AMI                 string // "" means the SSM public parameter for Arch
	GatewayInstanceType string
	BinaryURL           string // "" means build and upload to S3
	BinarySHA256        string
	GatewayConfigFile   string

	PoolName               string
	BackendInstanceType    string
	AppPort                int
	MinSize                int
	MaxSize                int
	DesiredCapacity        int
	HealthCheckGracePeriod int
	WaitForCapacityTimeout string
	SpotEnabled            bool
	SpotInstanceTypes      []string
	OnDemandBaseCapacity   int
	OnDemandPercentAbove   int
	BackendUserData        string
	Schedules              []Schedule

	AutoscalerPlacement           string
	AutoscalerCapacityPerInstance int // requests/s one backend serves (the daemon's target tracking)

	// What the gateway instances run (infra/boot renders it).
	FailoverLeaseTTL     time.Duration // the gateways' (and autoscalers') DynamoDB lease; bounds the failover gap
	DiscoveryInterval    time.Duration // how often the gateways poll the ASG for backends
	AutoscalerInterval   time.Duration // the autoscaler's decision period
	TLSCertificateSource string        // "" (443 closed) | ssm:/prefix | s3://bucket/prefix
}

// Key returns the fully qualified config key, as it appears in the stack file.
func Key(k string) string { return Namespace + ":" + k }

// Getter reads one raw config value (pulumi.Context.GetConfig has this shape).
// Structured values (arrays, objects) arrive as JSON text, as from the engine.
type Getter func(key string) (string, bool)

// Load reads, defaults and validates the project's config. Every problem
// found is reported (errors.Join), each naming its key.
func Load(get Getter, project, stack string) (*Config, error) {
	r := reader{get: get}
	c := &Config{Project: project, Stack: stack}
	c.Region = r.str("aws:region", "")
	if c.Region == "" {
		r.fail("aws:region", "is required (e.g. us-east-1)")
	}
	c.Environment = r.str(Key("environment"), stack)
	c.Owner = r.str(Key("owner"), "")
	c.Tags = map[string]string{}
	r.json(Key("tags"), &c.Tags)

	c.VPCCIDR = r.prefix(Key("vpcCidr"), "10.0.0.0/16")
	c.AZCount = r.int(Key("azCount"), 2)
	r.json(Key("availabilityZones"), &c.AvailabilityZones)
	c.PublicSubnetCIDRs = r.prefixes(Key("publicSubnetCidrs"), nil)
	c.PrivateSubnetCIDRs = r.prefixes(Key("privateSubnetCidrs"), nil)
	c.PublicSubnetPrefix = r.int(Key("publicSubnetPrefix"), 0)
	c.PrivateSubnetPrefix = r.int(Key("privateSubnetPrefix"), 0)
	c.NATStrategy = r.str(Key("natStrategy"), NATOnePerAZ)
	c.FlowLogs = r.bool(Key("flowLogs"), false)

	c.AllowedCIDRs = r.prefixes(Key("allowedCidrs"), []string{"0.0.0.0/0"})
	c.AdminPort = r.int(Key("adminPort"), 9090)
	c.Arch = r.str(Key("arch"), "amd64")
	c.AMI = r.str(Key("ami"), "")
	c.GatewayInstanceType = r.str(Key("gatewayInstanceType"), "t3.small")
	c.BinaryURL = r.str(Key("binaryUrl"), "")
	c.BinarySHA256 = r.str(Key("binarySha256"), "")
	c.GatewayConfigFile = r.str(Key("gatewayConfigFile"), "")

	c.PoolName = r.str(Key("poolName"), "backend")
	c.BackendInstanceType = r.str(Key("backendInstanceType"), "t3.small")
	c.AppPort = r.int(Key("appPort"), 8080)
	c.MinSize = r.int(Key("minSize"), 1)
	c.MaxSize = r.int(Key("maxSize"), 4)
	c.DesiredCapacity = r.int(Key("desiredCapacity"), -1)
	if c.DesiredCapacity == -1 { // the project default: start at minSize
		c.DesiredCapacity = c.MinSize
	}
	c.HealthCheckGracePeriod = r.int(Key("healthCheckGracePeriod"), 120)
	c.WaitForCapacityTimeout = r.str(Key("waitForCapacityTimeout"), "10m")
	c.SpotEnabled = r.bool(Key("spotEnabled"), false)
	r.json(Key("spotInstanceTypes"), &c.SpotInstanceTypes)
	c.OnDemandBaseCapacity = r.int(Key("onDemandBaseCapacity"), 0)
	c.OnDemandPercentAbove = r.int(Key("onDemandPercentageAboveBaseCapacity"), 100)
	c.BackendUserData, _ = get(Key("backendUserData")) // verbatim: whitespace matters in cloud-init
	r.json(Key("schedules"), &c.Schedules)
	c.AutoscalerPlacement = r.str(Key("autoscalerPlacement"), PlacementGateway)
	c.AutoscalerCapacityPerInstance = r.int(Key("autoscalerCapacityPerInstance"), 100)
	c.FailoverLeaseTTL = r.duration(Key("failoverLeaseTtl"), 15*time.Second)
	c.DiscoveryInterval = r.duration(Key("discoveryInterval"), 15*time.Second)
	c.AutoscalerInterval = r.duration(Key("autoscalerInterval"), 60*time.Second)
	c.TLSCertificateSource = r.str(Key("tlsCertificateSource"), "")

	// "[]" (a project default) and an absent key mean the same.
	if len(c.AvailabilityZones) == 0 {
		c.AvailabilityZones = nil
	}
	if len(c.SpotInstanceTypes) == 0 {
		c.SpotInstanceTypes = nil
	}
	if len(c.Schedules) == 0 {
		c.Schedules = nil
	}
	if err := errors.Join(r.errs...); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the invariants that do not need the cloud.
func (c *Config) Validate() error {
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Owner == "" {
		fail(Key("owner"), "is required: every resource is tagged with its owner")
	}
	if !regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`).MatchString(c.Environment) {
		fail(Key("environment"), "%q must be lower-case letters, digits and '-' (it is part of resource names)", c.Environment)
	}
	switch c.NATStrategy {
	case NATNone, NATSingle, NATOnePerAZ:
	default:
		fail(Key("natStrategy"), "unknown strategy %q; want %s, %s or %s", c.NATStrategy, NATNone, NATSingle, NATOnePerAZ)
	}
	switch c.AutoscalerPlacement {
	case PlacementGateway, PlacementExternal:
	default:
		fail(Key("autoscalerPlacement"), "unknown placement %q; want %s or %s", c.AutoscalerPlacement, PlacementGateway, PlacementExternal)
	}
	if c.AutoscalerCapacityPerInstance < 1 {
		fail(Key("autoscalerCapacityPerInstance"), "must be at least 1 request/s, got %d", c.AutoscalerCapacityPerInstance)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"failoverLeaseTtl", c.FailoverLeaseTTL}, {"discoveryInterval", c.DiscoveryInterval}, {"autoscalerInterval", c.AutoscalerInterval}} {
		if d.v <= 0 {
			fail(Key(d.key), "must be a positive duration like \"15s\", got %v", d.v)
		}
	}
	if s := c.TLSCertificateSource; s != "" {
		ssm, isSSM := strings.CutPrefix(s, "ssm:/")
		bucket, isS3 := strings.CutPrefix(s, "s3://")
		if !(isSSM && ssm != "") && !(isS3 && bucket != "" && !strings.HasPrefix(bucket, "/")) {
			fail(Key("tlsCertificateSource"), "%q is neither ssm:/parameter/prefix nor s3://bucket/prefix", s)
		}
	}
	if c.AZCount < 1 {
		fail(Key("azCount"), "must be at least 1, got %d", c.AZCount)
	}
	if n := len(c.AvailabilityZones); n > 0 && n != c.AZCount {
		fail(Key("availabilityZones"), "lists %d zones but drawbridge:azCount is %d", n, c.AZCount)
	}
	if c.Arch != "amd64" && c.Arch != "arm64" {
		fail(Key("arch"), "unknown architecture %q; want amd64 or arm64", c.Arch)
	} else {
		for _, k := range []struct{ key, typ string }{{"gatewayInstanceType", c.GatewayInstanceType}, {"backendInstanceType", c.BackendInstanceType}} {
			if k.typ == "" {
				fail(Key(k.key), "is required")
			} else if a := InstanceArch(k.typ); a != c.Arch {
				fail(Key(k.key), "%q is an %s instance type but drawbridge:arch is %s", k.typ, a, c.Arch)
			}
		}
	}
	for _, p := range []struct {
		key  string
		port int
	}{{"adminPort", c.AdminPort}, {"appPort", c.AppPort}} {
		if p.port < 1 || p.port > 65535 {
			fail(Key(p.key), "port %d out of range 1-65535", p.port)
		}
	}
	if c.AdminPort == 80 || c.AdminPort == 443 {
		fail(Key("adminPort"), "%d collides with the public listener ports 80/443", c.AdminPort)
	}
	if len(c.AllowedCIDRs) == 0 {
		fail(Key("allowedCidrs"), "must list at least one CIDR (0.0.0.0/0 for the whole internet)")
	}
	if c.BinaryURL != "" {
		if u, err := url.Parse(c.BinaryURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			fail(Key("binaryUrl"), "%q is not an http(s) URL", c.BinaryURL)
		}
	}
	if c.BinarySHA256 != "" && !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(c.BinarySHA256) {
		fail(Key("binarySha256"), "must be 64 lower-case hex digits")
	}
	if c.MinSize < 0 {
		fail(Key("minSize"), "must be >= 0, got %d", c.MinSize)
	}
	if c.MaxSize < 1 {
		fail(Key("maxSize"), "must be >= 1, got %d", c.MaxSize)
	}
	if c.MinSize > c.MaxSize {
		fail(Key("minSize"), "%d is greater than drawbridge:maxSize %d", c.MinSize, c.MaxSize)
	} else if c.DesiredCapacity < c.MinSize || c.DesiredCapacity > c.MaxSize {
		fail(Key("desiredCapacity"), "%d is outside [drawbridge:minSize %d, drawbridge:maxSize %d]", c.DesiredCapacity, c.MinSize, c.MaxSize)
	}
	if c.HealthCheckGracePeriod < 0 {
		fail(Key("healthCheckGracePeriod"), "must be >= 0 seconds, got %d", c.HealthCheckGracePeriod)
	}
	if c.WaitForCapacityTimeout != "0" {
		if _, err := time.ParseDuration(c.WaitForCapacityTimeout); err != nil {
			fail(Key("waitForCapacityTimeout"), "%q is not a duration like \"10m\" or \"0\" (off)", c.WaitForCapacityTimeout)
		}
	}
	if c.SpotEnabled {
		if c.OnDemandPercentAbove < 0 || c.OnDemandPercentAbove > 100 {
			fail(Key("onDemandPercentageAboveBaseCapacity"), "must be 0-100, got %d", c.OnDemandPercentAbove)
		}
		if c.OnDemandBaseCapacity < 0 || c.OnDemandBaseCapacity > c.MaxSize {
			fail(Key("onDemandBaseCapacity"), "must be within [0, drawbridge:maxSize %d], got %d", c.MaxSize, c.OnDemandBaseCapacity)
		}
		for i, t := range c.SpotInstanceTypes {
			if a := InstanceArch(t); a != c.Arch {
				fail(fmt.Sprintf("%s[%d]", Key("spotInstanceTypes"), i), "%q is an %s instance type but drawbridge:arch is %s", t, a, c.Arch)
			}
		}
	}
	seen := map[string]bool{}
	for i, s := range c.Schedules {
		key := fmt.Sprintf("%s[%d]", Key("schedules"), i)
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`).MatchString(s.Name) {
			fail(key+".name", "%q must be 1-64 letters, digits, '-' or '_'", s.Name)
		} else if seen[s.Name] {
			fail(key+".name", "duplicate schedule %q", s.Name)
		}
		seen[s.Name] = true
		if len(strings.Fields(s.Recurrence)) != 5 {
			fail(key+".recurrence", "%q is not a 5-field cron expression", s.Recurrence)
		}
		if s.TimeZone != "" {
			if _, err := time.LoadLocation(s.TimeZone); err != nil {
				fail(key+".timeZone", "unknown IANA time zone %q", s.TimeZone)
			}
		}
		if s.MinSize == nil && s.MaxSize == nil && s.DesiredCapacity == nil {
			fail(key, "sets none of minSize, maxSize, desiredCapacity")
		}
		if s.MinSize != nil && s.MaxSize != nil && *s.MinSize > *s.MaxSize {
			fail(key+".minSize", "%d is greater than maxSize %d", *s.MinSize, *s.MaxSize)
		}
	}
	if _, err := c.subnetLayout(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// InstanceArch guesses the CPU architecture of an EC2 instance type from its
// family: Graviton families carry a "g" after the generation digit (t4g,
// m7g, c7gn, r6gd); "g5" (GPU, x86) does not.
func InstanceArch(instanceType string) string {
	family, _, _ := strings.Cut(instanceType, ".")
	m := regexp.MustCompile(`^[a-z]+[0-9]+([a-z-]*)$`).FindStringSubmatch(family)
	if m != nil && strings.Contains(m[1], "g") {
		return "arm64"
	}
	return "amd64"
}

// Network is the address plan: one public and one private subnet per AZ.
type Network struct {
	VPC     netip.Prefix
	AZs     []string
	Public  []netip.Prefix
	Private []netip.Prefix
}

// PlanNetwork picks the AZs among those the region offers and lays out the
// subnets. It fails, naming drawbridge:azCount or :availabilityZones, when the
// region has fewer zones than asked for.
func (c *Config) PlanNetwork(offered []string) (*Network, error) {
	var azs []string
	if len(c.AvailabilityZones) > 0 {
		for i, az := range c.AvailabilityZones {
			if !slices.Contains(offered, az) {
				return nil, fmt.Errorf("%s[%d]: %q is not offered by region %s (it offers %s)", Key("availabilityZones"), i, az, c.Region, strings.Join(offered, ", "))
			}
		}
		azs = slices.Clone(c.AvailabilityZones)
	} else {
		if c.AZCount > len(offered) {
			return nil, fmt.Errorf("%s: %d availability zones requested but region %s offers %d (%s)", Key("azCount"), c.AZCount, c.Region, len(offered), strings.Join(offered, ", "))
		}
		azs = slices.Clone(offered[:c.AZCount])
	}
	layout, err := c.subnetLayout()
	if err != nil {
		return nil, err
	}
	layout.AZs = azs
	return layout, nil
}

// subnetLayout returns the explicit subnets (checked) or computes them:
// private subnets first (larger: they hold the scaling backends), then public
// ones, each aligned to its size, as awsx does by default.
func (c *Config) subnetLayout() (*Network, error) {
	vpc := c.VPCCIDR
	if !vpc.IsValid() || !vpc.Addr().Is4() {
		return nil, fmt.Errorf("%s: must be an IPv4 CIDR", Key("vpcCidr"))
	}
	if vpc.Bits() < 16 || vpc.Bits() > 28 {
		return nil, fmt.Errorf("%s: %s has a /%d prefix; AWS allows /16 to /28", Key("vpcCidr"), vpc, vpc.Bits())
	}
	if vpc != vpc.Masked() {
		return nil, fmt.Errorf("%s: %s has host bits set; did you mean %s?", Key("vpcCidr"), vpc, vpc.Masked())
	}
	n := &Network{VPC: vpc}
	type named struct {
		key string
		p   netip.Prefix
	}
	var all []named
	explicit := func(key string, ps []netip.Prefix) error {
		if len(ps) != c.AZCount {
			return fmt.Errorf("%s: lists %d subnets but drawbridge:azCount is %d (one per AZ)", key, len(ps), c.AZCount)
		}
		for i, p := range ps {
			k := fmt.Sprintf("%s[%d]", key, i)
			if p.Bits() < 16 || p.Bits() > 28 {
				return fmt.Errorf("%s: %s has a /%d prefix; AWS subnets are /16 to /28", k, p, p.Bits())
			}
			if p != p.Masked() {
				return fmt.Errorf("%s: %s has host bits set; did you mean %s?", k, p, p.Masked())
			}
			if !vpc.Contains(p.Addr()) || p.Bits() < vpc.Bits() {
				return fmt.Errorf("%s: %s is not inside drawbridge:vpcCidr %s", k, p, vpc)
			}
			all = append(all, named{k, p})
		}
		return nil
	}
	if c.PublicSubnetCIDRs != nil || c.PrivateSubnetCIDRs != nil {
		if err := explicit(Key("privateSubnetCidrs"), c.PrivateSubnetCIDRs); err != nil {
			return nil, err
		}
		if err := explicit(Key("publicSubnetCidrs"), c.PublicSubnetCIDRs); err != nil {
			return nil, err
		}
		n.Private, n.Public = c.PrivateSubnetCIDRs, c.PublicSubnetCIDRs
	} else {
		priv, pub := c.PrivateSubnetPrefix, c.PublicSubnetPrefix
		if priv == 0 {
			priv = min(vpc.Bits()+4, 28)
		}
		if pub == 0 {
			pub = min(vpc.Bits()+8, 28)
		}
		for _, s := range []struct {
			key  string
			bits int
		}{{"privateSubnetPrefix", priv}, {"publicSubnetPrefix", pub}} {
			if s.bits < vpc.Bits() || s.bits > 28 {
				return nil, fmt.Errorf("%s: /%d must be between the VPC's /%d and /28", Key(s.key), s.bits, vpc.Bits())
			}
		}
		need := uint64(c.AZCount) * (1<<(32-priv) + 1<<(32-pub))
		if have := uint64(1) << (32 - vpc.Bits()); need > have {
			return nil, fmt.Errorf("%s: %s (%d addresses) cannot hold %d private /%d and %d public /%d subnets (%d addresses); use a larger VPC or longer subnet prefixes",
				Key("vpcCidr"), vpc, have, c.AZCount, priv, c.AZCount, pub, need)
		}
		cursor := addrToUint(vpc.Addr())
		end := cursor + 1<<(32-vpc.Bits())
		alloc := func(bits int) (netip.Prefix, error) {
			size := uint32(1) << (32 - bits)
			start := (cursor + size - 1) &^ (size - 1)
			if uint64(start)+uint64(size) > uint64(end) {
				return netip.Prefix{}, fmt.Errorf("%s: %s has no room left for another /%d subnet", Key("vpcCidr"), vpc, bits)
			}
			cursor = start + size
			return netip.PrefixFrom(uintToAddr(start), bits), nil
		}
		// Private subnets first, then public, one of each per AZ.
		for _, tier := range []struct {
			name string
			bits int
			into *[]netip.Prefix
		}{{"private", priv, &n.Private}, {"public", pub, &n.Public}} {
			for i := 0; i < c.AZCount; i++ {
				p, err := alloc(tier.bits)
				if err != nil {
					return nil, err
				}
				*tier.into = append(*tier.into, p)
				all = append(all, named{fmt.Sprintf("%s subnet %d", tier.name, i), p})
			}
		}
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if all[i].p.Overlaps(all[j].p) {
				return nil, fmt.Errorf("%s: %s overlaps %s %s", all[j].key, all[j].p, all[i].key, all[i].p)
			}
		}
	}
	return n, nil
}

func addrToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToAddr(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}

// reader collects parse errors so that one run reports all of them.
type reader struct {
	get  Getter
	errs []error
}

func (r *reader) fail(key, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (r *reader) raw(key string) (string, bool) {
	v, ok := r.get(key)
	if !ok || strings.TrimSpace(v) == "" {
		return "", false
	}
	return strings.TrimSpace(v), true
}

func (r *reader) str(key, def string) string {
	if v, ok := r.raw(key); ok {
		return v
	}
	return def
}

func (r *reader) int(key string, def int) int {
	return parsed(r, key, def, strconv.Atoi, "an integer")
}

func (r *reader) duration(key string, def time.Duration) time.Duration {
	return parsed(r, key, def, time.ParseDuration, `a duration like "15s"`)
}

func (r *reader) bool(key string, def bool) bool {
	return parsed(r, key, def, strconv.ParseBool, "true or false")
}

// parsed is key's value read by parse: def when the key is unset, and def
// with a complaint that the value is not what it should be (want) when
// parse fails.
func parsed[T any](r *reader, key string, def T, parse func(string) (T, error), want string) T {
	v, ok := r.raw(key)
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		r.fail(key, "%q is not %s", v, want)
		return def
	}
	return x
}

func (r *reader) json(key string, into any) {
	v, ok := r.raw(key)
	if !ok {
		return
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		r.fail(key, "invalid value: %v", err)
	}
}

func (r *reader) prefix(key, def string) netip.Prefix {
	v := r.str(key, def)
	p, err := netip.ParsePrefix(v)
	if err != nil {
		r.fail(key, "%q is not a CIDR block", v)
	}
	return p
}

func (r *reader) prefixes(key string, def []string) []netip.Prefix {
	list := def
	if _, ok := r.raw(key); ok {
		list = nil
		r.json(key, &list)
	}
	if len(list) == 0 {
		if def == nil {
			return nil // "[]" means unset, e.g. a project default
		}
		return []netip.Prefix{}
	}
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			r.fail(fmt.Sprintf("%s[%d]", key, i), "%q is not a CIDR block", s)
			continue
		}
		out = append(out, p)
	}
	return out
}
