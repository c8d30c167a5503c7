package discovery

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config keeps a pool's membership in step with a source of truth; it is
// a pool's discovery block of the gateway's file. Type picks a provider of
// Providers; each provider owns some of the keys (Provider.Keys), and a key
// of another provider is an error at its line (Misplaced). Interval and
// Jitter are shared.
type Config struct {
	Type     string        `yaml:"type"`     // static (the backends list) | file | asg; default static
	File     string        `yaml:"file"`     // file: YAML or JSON list of "host:port" or {address, id, weight}; relative to this file
	ASG      string        `yaml:"asg"`      // asg: Auto Scaling group name; InService instances' private IPs
	Port     int           `yaml:"port"`     // asg: the backends' port; 0 = each instance's drawbridge:port tag
	Interval time.Duration `yaml:"interval"` // asg: poll period; file: re-read period besides change events; default 15s
	Jitter   float64       `yaml:"jitter"`   // 0..1: each wait is interval +- this fraction, random; default 0.1
	Region   string        `yaml:"region"`   // asg; default the SDK chain
	Endpoint string        `yaml:"endpoint"` // asg: endpoint override for emulators
}

func (c *Config) SetDefaults() {
	c.Type = TypeStatic
	c.Interval = 15 * time.Second
	c.Jitter = 0.1
}

// Provider types.
const (
	TypeStatic = "static"
	TypeFile   = "file"
	TypeASG    = "asg"
)

// Env is what building a provider needs besides its config.
type Env struct {
	Clock   clock.Clock
	OnError func(error) // hears failed polls and reads
	// AWS returns the AWS configuration for a region and endpoint
	// override (the caller shares it between pools).
	AWS func(region, endpoint string) (aws.Config, error)
}

// Kind is one discovery provider: its name (the type key's value), the
// keys of Config it owns, its validator and its constructor.
type Kind struct {
	Name  string
	Keys  []string                                   // yaml keys only this kind reads
	Check func(c *Config, v *yamlconf.Check)         // problems by key relative to the block
	New   func(c *Config, env Env) (Provider, error) // nil: the pool's backends list is the membership
}

// Providers is the registry of discovery providers. Adding one is adding
// an entry (and its keys to Config); nothing else switches on the names.
var Providers = []Kind{
	{Name: TypeStatic},
	{
		Name: TypeFile, Keys: []string{"file"},
		Check: func(c *Config, v *yamlconf.Check) {
			if c.File == "" {
				v.Add("file", "required with type file")
			}
		},
		New: func(c *Config, env Env) (Provider, error) {
			return &File{Path: c.File, Interval: c.Interval, Clock: env.Clock, OnError: env.OnError}, nil
		},
	},
	{
		Name: TypeASG, Keys: []string{"asg", "port", "region", "endpoint"},
		Check: func(c *Config, v *yamlconf.Check) {
			if c.ASG == "" {
				v.Add("asg", "required with type asg")
			}
			if c.Port != 0 { // 0: each instance's drawbridge:port tag
				v.Between("port", c.Port, 1, 65535)
			}
		},
		New: func(c *Config, env Env) (Provider, error) {
			ac, err := env.AWS(c.Region, c.Endpoint)
			if err != nil {
				return nil, err
			}
			return &ASG{AutoScaling: autoscaling.NewFromConfig(ac), EC2: ec2.NewFromConfig(ac), Group: c.ASG, Port: c.Port,
				Interval: c.Interval, Jitter: c.Jitter, Clock: env.Clock, OnError: env.OnError}, nil
		},
	},
}

// Lookup returns the registered provider called name.
func Lookup(name string) (Kind, bool) {
	i := slices.IndexFunc(Providers, func(k Kind) bool { return k.Name == name })
	if i < 0 {
		return Kind{}, false
	}
	return Providers[i], true
}

// Dynamic reports whether the membership comes from a provider rather
// than the pool's backends list.
func (c *Config) Dynamic() bool {
	k, ok := Lookup(c.Type)
	return ok && k.New != nil
}

// Validate reports the problems of c by key relative to the block.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if k, ok := Lookup(c.Type); !ok {
		names := make([]string, len(Providers))
		for i, k := range Providers {
			names[i] = k.Name
		}
		v.Add("type", "want %s or %s, got %q", strings.Join(names[:len(names)-1], ", "), names[len(names)-1], c.Type)
	} else if k.Check != nil {
		k.Check(c, &v)
	}
	v.Positive("interval", c.Interval)
	if !(c.Jitter >= 0 && c.Jitter < 1) {
		v.Add("jitter", "must be in [0, 1), got %v", c.Jitter)
	}
	return v.Errs
}

// Misplaced reports the keys written in the block (written says which,
// by key relative to it) that belong to another provider than c's: they
// would be ignored, which is never what was meant. Static is discovery
// switched off, and like the other off switches of the file (failover
// mode none, tracing disabled) it keeps any provider's keys written down.
func (c *Config) Misplaced(written func(key string) bool) yamlconf.Errors {
	var v yamlconf.Check
	if k, ok := Lookup(c.Type); !ok || k.New == nil {
		return nil // unknown (reported by Validate) or off
	}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if !written(key) {
			continue
		}
		var owners []string
		for _, k := range Providers {
			if slices.Contains(k.Keys, key) {
				owners = append(owners, k.Name)
			}
		}
		if len(owners) > 0 && !slices.Contains(owners, c.Type) {
			v.Add(key, "applies to %s discovery, not %s", strings.Join(owners, " and "), c.Type)
		}
	}
	return v.Errs
}

// Build returns c's provider, or nil for a membership the backends list
// gives.
func (c *Config) Build(env Env) (Provider, error) {
	k, ok := Lookup(c.Type)
	if !ok {
		return nil, fmt.Errorf("unknown discovery type %q", c.Type)
	}
	if k.New == nil {
		return nil, nil
	}
	return k.New(c, env)
}
