package yamlconf

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"
	"gopkg.in/yaml.v3"
)

// Kind is one entry of a Kinds registry: the name written in the
// discriminator key and the constructor of its config type. S is the
// interface every kind's config implements (how the kind validates and
// builds itself), so an entry cannot register a config without both.
type Kind[S any] struct {
	Name string
	// New returns a new config of the kind: a pointer to a struct whose
	// fields carry yaml tags. Defaults are applied if it is a Defaulter.
	New func() S
}

// Kinds is the registry of one tagged union's kinds (the lease types, the
// metric sources, ...). It is immutable once built.
type Kinds[S any] struct {
	one, many string // "policy type", "policies": a kind and the members, in messages
	kinds     []Kind[S]
}

// NewKinds builds a registry; one names a kind and many the union's
// members in error messages ("policy type", "policies": `unknown policy
// type "x"`, `applies to step policies, not predictive`).
func NewKinds[S any](one, many string, kinds ...Kind[S]) *Kinds[S] {
	for _, k := range kinds {
		if t := reflect.TypeOf(k.New()); t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
			panic(fmt.Sprintf("yamlconf: %s %q: New must return a pointer to a struct, not %v", one, k.Name, t))
		}
	}
	return &Kinds[S]{one: one, many: many, kinds: kinds}
}

// Names lists the registered kinds in registration order.
func (r *Kinds[S]) Names() []string {
	names := make([]string, len(r.kinds))
	for i, k := range r.kinds {
		names[i] = k.Name
	}
	return names
}

// New returns a new config of the named kind with its defaults applied,
// or an error that names the known kinds (and the likeliest one, for a
// typo).
func (r *Kinds[S]) New(name string) (S, error) {
	for _, k := range r.kinds {
		if k.Name == name {
			s := k.New()
			if d, ok := any(s).(Defaulter); ok {
				d.SetDefaults()
			}
			return s, nil
		}
	}
	var zero S
	if name == "" {
		return zero, fmt.Errorf("required; want one of %s", strings.Join(r.Names(), ", "))
	}
	return zero, fmt.Errorf("unknown %s %q%s; want one of %s", r.one, name, DidYouMean(name, r.Names()), strings.Join(r.Names(), ", "))
}

// NameOf returns the registered name of spec's kind ("" if none).
func (r *Kinds[S]) NameOf(spec S) string {
	t := reflect.TypeOf(spec)
	for _, k := range r.kinds {
		if reflect.TypeOf(k.New()) == t {
			return k.Name
		}
	}
	return ""
}

// owners lists the kinds whose config has key.
func (r *Kinds[S]) owners(key string) []string {
	var out []string
	for _, k := range r.kinds {
		if fieldIndex(reflect.TypeOf(k.New()).Elem(), key) >= 0 {
			out = append(out, k.Name)
		}
	}
	return out
}

func (r *Kinds[S]) newAny(name string) (any, error) { return r.New(name) }

func (r *Kinds[S]) misplaced(key, kind string) string {
	owners := r.owners(key)
	if len(owners) == 0 {
		return ""
	}
	return fmt.Sprintf("applies to %s %s, not %s", joinOr(owners, " and "), r.many, kind)
}

// kindSet is what the decoder needs of a Kinds, whatever its S.
type kindSet interface {
	newAny(name string) (any, error)
	misplaced(key, kind string) string
}

// Union is implemented (on the pointer) by a configuration struct that is
// a tagged union: its field tagged `yaml:"KEY"` (KEY as Union returns it)
// names the kind, its field tagged `yaml:",spec"` receives the kind's own
// config, and its other fields are keys every kind shares. The decoder
// reads the kind first and decodes the remaining keys into the kind's
// config, so a key of another kind is an error at its own line, wherever
// it is written.
type Union interface {
	// Union returns the discriminator key and the registry of kinds (a
	// *Kinds of any S).
	Union() (key string, kinds any)
}

var unionType = reflect.TypeFor[Union]()

// union decodes mapping n into the tagged-union struct v.
func (d *decoder) union(n *yaml.Node, v reflect.Value, key string) {
	discKey, ks := v.Addr().Interface().(Union).Union()
	kinds, ok := ks.(kindSet)
	if !ok {
		panic(fmt.Sprintf("yamlconf: %v.Union returns %T, not a *yamlconf.Kinds", v.Type(), ks))
	}
	t := v.Type()
	disc, spec := fieldIndex(t, discKey), specIndex(t)
	if disc < 0 || spec < 0 || t.Field(disc).Type.Kind() != reflect.String {
		panic(fmt.Sprintf("yamlconf: %v needs a string field tagged %q and one tagged \",spec\"", t, discKey))
	}
	pairs := d.pairs(n, key)
	at, before := n, len(d.errs) // the discriminator, or the mapping when it is left out
	for _, p := range pairs {
		if p.key.Value == discKey {
			k := join(key, discKey)
			d.lines[k] = p.key.Line
			d.value(p.val, v.Field(disc), k)
			at = p.val
		}
	}
	kind := v.Field(disc).String()
	var cfg any
	err := errors.New("the kind is not a string") // reported by value
	if len(d.errs) == before {
		if cfg, err = kinds.newAny(kind); err != nil {
			d.errorf(at, join(key, discKey), "%v", err)
		} else {
			v.Field(spec).Set(reflect.ValueOf(cfg))
		}
	}
	for _, p := range pairs {
		name := p.key.Value
		if name == discKey {
			continue
		}
		k := join(key, name)
		if i := fieldIndex(t, name); i >= 0 && i != spec {
			d.lines[k] = p.key.Line
			d.value(p.val, v.Field(i), k)
			continue
		}
		if err != nil {
			continue // the kind is unknown: its keys cannot be judged
		}
		sv := reflect.ValueOf(cfg).Elem()
		if i := fieldIndex(sv.Type(), name); i >= 0 {
			d.lines[k] = p.key.Line
			d.value(p.val, sv.Field(i), k)
			continue
		}
		if msg := kinds.misplaced(name, kind); msg != "" {
			d.errorf(p.key, k, "%s", msg)
		} else {
			d.errorf(p.key, k, "unknown key")
		}
	}
}

// specIndex returns the index of t's field tagged `yaml:",spec"`, or -1.
func specIndex(t reflect.Type) int {
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("yaml") == ",spec" {
			return i
		}
	}
	return -1
}

// DidYouMean returns ` (did you mean "x"?)` when one of known is a likely
// typo of s (edit distance at most 2, or one a prefix of the other), else
// "".
func DidYouMean(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		d := levenshtein.ComputeDistance(strings.ToLower(s), k)
		if len(s) >= 3 && (strings.HasPrefix(k, strings.ToLower(s)) || strings.HasPrefix(strings.ToLower(s), k)) {
			d = min(d, 2) // "target" for target_tracking, "rectangle" for rect
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// joinOr joins words as "a", "a and b", "a, b and c" (sep " and " or " or ").
func joinOr(words []string, sep string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(slices.Clone(words[:len(words)-1]), ", ") + sep + words[len(words)-1]
}
