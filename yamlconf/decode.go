// Package yamlconf decodes a YAML configuration file into Go structs
// strictly: unknown keys, wrong types and duplicate keys are all reported at
// once, each with FILE:LINE and the dotted key path, and it records where
// every key was written so that later semantic checks can point there too.
// Values may hold ${VAR}, ${VAR:-default} and ${file:PATH} references,
// substituted before decoding (subst.go). The gateway and autoscaler
// configs both load through it.
package yamlconf

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The file is first parsed into a yaml.Node tree, then walked alongside
// the target types by reflection. Walking the tree ourselves rather than
// calling yaml's Decode is what lets every unknown key and wrong type be
// reported with its key path and line, all of them at once, and it records
// where each key was written so that later semantic errors can point there.

// parseDocument returns the root node of the single YAML document in data.
func parseDocument(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Line: 1, Msg: "empty configuration"}
		}
		return nil, syntaxError(file, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(file, err)
	default:
		return nil, &Error{File: file, Line: next.Line, Msg: "multiple YAML documents; the configuration must be one"}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &Error{File: file, Line: max(doc.Line, 1), Msg: "empty configuration"}
	}
	return doc.Content[0], nil
}

// syntaxError turns yaml's "yaml: line N: msg" into an *Error.
func syntaxError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: file, Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, m, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				e.Line, e.Msg = line, m
			}
		}
	}
	return e
}

type decoder struct {
	lines   map[string]int      // key path -> line it was written on
	errs    Errors              // File is filled in; Line from the node
	file    string              //
	budget  int                 // nodes left to visit; bounds alias expansion
	merging map[*yaml.Node]bool // merge targets being expanded, to stop cycles
	subst   *substituter        // what ${...} replaced, to keep it out of messages
}

func newDecoder(file string, root *yaml.Node) *decoder {
	return &decoder{
		lines: map[string]int{"": root.Line},
		file:  file,
		// Aliases let a small file name the same subtree many times; allow
		// generous reuse but not an exponential or quadratic blow-up.
		budget:  10*countNodes(root) + 10000,
		merging: make(map[*yaml.Node]bool),
	}
}

func countNodes(n *yaml.Node) int {
	c := 1
	for _, child := range n.Content {
		c += countNodes(child)
	}
	return c
}

// line returns the line of key, or of its nearest ancestor in the file
// (a missing required key is reported where its parent is).
func (d *decoder) line(key string) int {
	for {
		if l, ok := d.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return d.lines[""]
		}
		key = key[:i]
	}
}

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// spend takes one node from the budget, reporting once when it runs out.
func (d *decoder) spend(n *yaml.Node, key string) bool {
	d.budget--
	if d.budget == -1 {
		d.errorf(n, key, "document too large after expanding aliases")
	}
	return d.budget >= 0
}

// Defaulter is implemented by configuration types that have defaults: they
// are applied before the type's keys are read, so a key left out keeps its
// default and a key written is checked as written.
type Defaulter interface{ SetDefaults() }

// newValue returns a pointer to a new T with T's defaults applied.
func newValue(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if d, ok := p.Interface().(Defaulter); ok {
		d.SetDefaults()
	}
	return p
}

// Lines tells where each key of a decoded file was written.
type Lines struct{ d *decoder }

// Line returns the line of key, or of its nearest ancestor written in the
// file (a missing required key is reported where its parent is).
func (l *Lines) Line(key string) int { return l.d.line(key) }

// Locate fills in file and line of errors found after decoding (semantic
// checks that know only the key) and returns them as one error, or nil.
func (l *Lines) Locate(errs Errors) error {
	l.d.subst.redactAll(errs)
	for _, e := range errs {
		e.File, e.Line = l.d.file, l.d.line(e.Key)
	}
	return errs.Err()
}

// Decode parses data, the single YAML document of file, into out (a pointer
// to a struct whose fields carry yaml tags), after applying out's defaults
// and substituting references in values; ${file:} paths are relative to
// file's directory.
// Every problem is reported at once, as Errors or a single *Error.
func Decode(file string, data []byte, out any) (*Lines, error) {
	root, err := parseDocument(file, data)
	if err != nil {
		return nil, err
	}
	if d, ok := out.(Defaulter); ok {
		d.SetDefaults()
	}
	// Substitution errors stop here: decoding half-substituted values would
	// only add noise about the same keys.
	s := substitute(file, root)
	if len(s.errs) > 0 {
		return nil, s.errs.Err()
	}
	d := newDecoder(file, root)
	d.subst = s
	d.decode(root, out)
	s.redactAll(d.errs)
	if len(d.errs) > 0 {
		return nil, d.errs.Err()
	}
	return &Lines{d}, nil
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decode walks n into *out, which must point to a struct.
func (d *decoder) decode(n *yaml.Node, out any) {
	d.value(n, reflect.ValueOf(out).Elem(), "")
}

// value decodes n into v, the field at key.
func (d *decoder) value(n *yaml.Node, v reflect.Value, key string) {
	if !d.spend(n, key) {
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		// "key:" or "key: ~" means not set: keep the default.
		return
	}
	t := v.Type()
	switch {
	case t == durationType || reflect.PointerTo(t).Implements(textUnmarshalerType):
		d.scalar(n, v, key)
	case t.Kind() == reflect.Pointer:
		p := newValue(t.Elem())
		d.value(n, p.Elem(), key)
		v.Set(p)
	case t.Kind() == reflect.Struct && reflect.PointerTo(t).Implements(unionType):
		if n.Kind != yaml.MappingNode {
			d.mismatch(n, key, "a mapping")
			return
		}
		d.union(n, v, key)
	case t.Kind() == reflect.Struct:
		d.structure(n, v, key)
	case t.Kind() == reflect.Slice:
		d.list(n, v, key)
	case t.Kind() == reflect.Map:
		d.dict(n, v, key)
	default:
		d.scalar(n, v, key)
	}
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, key, "a mapping")
		return
	}
	for _, p := range d.pairs(n, key) {
		if key == "" && strings.HasPrefix(p.key.Value, "x-") {
			// Ignored, as in Compose files: a place to define anchors.
			continue
		}
		k := join(key, p.key.Value)
		i := fieldIndex(v.Type(), p.key.Value)
		if i < 0 {
			d.errorf(p.key, k, "unknown key")
			continue
		}
		d.lines[k] = p.key.Line
		d.value(p.val, v.Field(i), k)
	}
}

// fieldIndex returns the index of t's field tagged yaml:"name", or -1.
func fieldIndex(t reflect.Type, name string) int {
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag == name {
			return i
		}
	}
	return -1
}

func (d *decoder) list(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.SequenceNode {
		d.mismatch(n, key, "a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		k := fmt.Sprintf("%s[%d]", key, i)
		d.lines[k] = item.Line
		e := newValue(v.Type().Elem())
		d.value(item, e.Elem(), k)
		s = reflect.Append(s, e.Elem())
	}
	v.Set(s)
}

func (d *decoder) dict(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, key, "a mapping")
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, p := range d.pairs(n, key) {
		k := join(key, p.key.Value)
		d.lines[k] = p.key.Line
		e := newValue(v.Type().Elem()).Elem()
		d.value(p.val, e, k)
		m.SetMapIndex(reflect.ValueOf(p.key.Value), e)
	}
	v.Set(m)
}

type pair struct{ key, val *yaml.Node }

// pairs returns the entries of mapping n with YAML merge keys ("<<: *base")
// expanded: keys written in n win over merged ones, and earlier merges over
// later ones. Keys written twice in n are errors, as yaml's Decode has them.
func (d *decoder) pairs(n *yaml.Node, key string) []pair {
	var own, merged []pair
	seen := make(map[string]int) // key -> line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !d.spend(k, key) {
			return nil
		}
		switch {
		case k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge":
			merged = append(merged, d.merge(v, key)...)
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, key, "keys must be strings")
		case seen[k.Value] != 0:
			d.errorf(k, join(key, k.Value), "duplicate key (first at line %d)", seen[k.Value])
		default:
			seen[k.Value] = k.Line
			own = append(own, pair{k, v})
		}
	}
	for _, p := range merged {
		if seen[p.key.Value] == 0 {
			seen[p.key.Value] = p.key.Line
			own = append(own, p)
		}
	}
	return own
}

// merge returns the entries a merge key's value contributes.
func (d *decoder) merge(n *yaml.Node, key string) []pair {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.merging[n] {
		d.errorf(n, key, "merge key includes itself")
		return nil
	}
	d.merging[n] = true
	defer delete(d.merging, n)
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, key)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range n.Content {
			out = append(out, d.merge(item, key)...)
		}
		return out
	}
	d.errorf(n, key, "merge key (<<) needs a mapping or a list of mappings")
	return nil
}

// scalar decodes a leaf value. Integers must be written as integers (yaml
// would truncate 1.5 into 1), and durations as Go durations ("5s").
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, key string) {
	ptr := v.Addr().Interface()
	if n.Kind != yaml.ScalarNode {
		d.mismatch(n, key, want(ptr))
		return
	}
	var ok bool
	switch p := ptr.(type) {
	case *time.Duration:
		var err error
		*p, err = time.ParseDuration(n.Value)
		ok = err == nil
	case encoding.TextUnmarshaler:
		if err := p.UnmarshalText([]byte(n.Value)); err != nil {
			d.errorf(n, key, "%v", err)
			return
		}
		ok = true
	case *string:
		*p, ok = n.Value, true
	case *bool:
		ok = n.Decode(p) == nil
	case *int:
		ok = n.ShortTag() == "!!int" && n.Decode(p) == nil
	case *int64:
		ok = n.ShortTag() == "!!int" && n.Decode(p) == nil
	case *float64:
		tag := n.ShortTag()
		ok = (tag == "!!int" || tag == "!!float") && n.Decode(p) == nil
	default:
		panic(fmt.Sprintf("yamlconf: no decoding for %T", ptr)) // a new field type needs a case
	}
	if !ok {
		d.mismatch(n, key, want(ptr))
	}
}

func want(ptr any) string {
	switch ptr.(type) {
	case *time.Duration:
		return `a duration like "5s" or "1m30s"`
	case *bool:
		return "true or false"
	case *int, *int64:
		return "an integer"
	case *float64:
		return "a number"
	}
	return "a string"
}

func (d *decoder) mismatch(n *yaml.Node, key, want string) {
	got := strconv.Quote(n.Value)
	if from, ok := d.subst.from[n]; ok {
		// Never echo substituted text: it may be a secret.
		got = "the value of " + from
	}
	switch n.Kind {
	case yaml.MappingNode:
		got = "a mapping"
	case yaml.SequenceNode:
		got = "a list"
	}
	d.errorf(n, key, "expected %s, got %s", want, got)
}

// Load reads the file at path and hands it to parse (a config package's
// Parse). Errors reading the file are returned as they are.
func Load[C any](path string, parse func(filename string, data []byte) (C, error)) (C, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var zero C
		return zero, err
	}
	return parse(path, data)
}

// Parse decodes data, the document of filename, into a new C and runs
// check, a config package's semantic validation, with the lines where
// keys were written; its errors are located like the decoder's own. On
// failure nothing half-checked is returned.
func Parse[C any](filename string, data []byte, check func(c *C, lines *Lines) Errors) (*C, error) {
	c := new(C)
	lines, err := Decode(filename, data, c)
	if err != nil {
		return nil, err
	}
	if err := lines.Locate(check(c, lines)); err != nil {
		return nil, err
	}
	return c, nil
}
