package yamlconf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Substitution of ${VAR}, ${VAR:-default} and ${file:PATH} in scalar
// values. It runs on the parsed node tree, before decoding, so that an
// error knows the line and key path, and so that keys and comments are
// never touched. The substituted text is then typed as if it had been
// written unquoted (so "port: ${PORT}" decodes as an integer), unless the
// value carries an explicit tag such as !!str. An empty result is an empty
// string, not null, so it never silently falls back to a key's default.

// MaxSubstFile bounds a ${file:} file: it holds a secret or a short value,
// and reading a multi-gigabyte file (or /dev/zero) into memory is a mistake.
const MaxSubstFile = 1 << 20

// redactMin is the shortest substituted text hidden from error messages;
// shorter pieces ("1", "on") would garble messages and are not secrets.
const redactMin = 4

type substituter struct {
	file, dir string
	errs      Errors
	files     []string              // files read, as opened, for watching
	from      map[*yaml.Node]string // substituted node -> its references, for messages
	secrets   []string              // substituted texts to keep out of messages
	seen      map[*yaml.Node]bool
}

// substitute replaces references in every scalar value under root.
func substitute(file string, root *yaml.Node) *substituter {
	s := &substituter{
		file: file,
		dir:  filepath.Dir(file),
		from: make(map[*yaml.Node]string),
		seen: make(map[*yaml.Node]bool),
	}
	s.walk(root, "")
	return s
}

func (s *substituter) walk(n *yaml.Node, key string) {
	// Aliases share their anchor's node: substitute it once, where written.
	if n.Kind == yaml.AliasNode || s.seen[n] {
		return
	}
	s.seen[n] = true
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
				s.walk(v, key)
				continue
			}
			s.walk(v, join(key, k.Value))
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			s.walk(item, fmt.Sprintf("%s[%d]", key, i))
		}
	case yaml.ScalarNode:
		s.scalar(n, key)
	}
}

func (s *substituter) scalar(n *yaml.Node, key string) {
	if !strings.Contains(n.Value, "${") {
		return
	}
	var out strings.Builder
	var refs []string
	rest := n.Value
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			out.WriteString(rest)
			break
		}
		if i > 0 && rest[i-1] == '$' {
			// "$${" is a literal "${".
			out.WriteString(rest[:i-1])
			out.WriteString("${")
			rest = rest[i+2:]
			continue
		}
		out.WriteString(rest[:i])
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			s.errorf(n, key, "unterminated ${ (write $${ for a literal ${)")
			return
		}
		ref := rest[i : i+end+1]
		text, ok := s.resolve(n, key, ref[2:len(ref)-1])
		if !ok {
			return
		}
		out.WriteString(text)
		refs = append(refs, ref)
		if len(text) >= redactMin {
			s.secrets = append(s.secrets, text)
		}
		rest = rest[i+end+1:]
	}
	n.Value = out.String()
	if len(refs) == 0 {
		return // only escapes: the value keeps its type
	}
	s.from[n] = strings.Join(refs, ", ")
	if len(n.Value) >= redactMin {
		s.secrets = append(s.secrets, n.Value)
	}
	if n.Style&yaml.TaggedStyle == 0 {
		n.Style, n.Tag = 0, ""
		if n.ShortTag() == "!!null" {
			n.Tag = "!!str"
		}
	}
}

// resolve returns the text of one reference, without its "${" and "}".
func (s *substituter) resolve(n *yaml.Node, key, ref string) (string, bool) {
	if path, ok := strings.CutPrefix(ref, "file:"); ok {
		return s.readFile(n, key, path)
	}
	name, def, hasDef := strings.Cut(ref, ":-")
	if !validName(name) {
		s.errorf(n, key, "invalid variable name %q in ${%s} (want letters, digits and _, not starting with a digit)", name, ref)
		return "", false
	}
	v, set := os.LookupEnv(name)
	switch {
	case hasDef && v == "":
		return def, true
	case !set:
		s.errorf(n, key, "environment variable %s is not set (write ${%s:-default} for a default)", name, name)
		return "", false
	}
	return v, true
}

func (s *substituter) readFile(n *yaml.Node, key, path string) (string, bool) {
	if path == "" {
		s.errorf(n, key, "${file:} needs a path")
		return "", false
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(s.dir, path)
	}
	f, err := os.Open(full)
	if err != nil {
		s.errorf(n, key, "cannot read %s for ${file:%s}: %v", full, path, pathErr(err))
		return "", false
	}
	defer f.Close()
	// A FIFO or device could block the load, or a reload, forever.
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		s.errorf(n, key, "%s for ${file:%s} is not a regular file", full, path)
		return "", false
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSubstFile+1))
	if err != nil {
		s.errorf(n, key, "cannot read %s for ${file:%s}: %v", full, path, pathErr(err))
		return "", false
	}
	if len(data) > MaxSubstFile {
		s.errorf(n, key, "%s for ${file:%s} is larger than %d bytes", full, path, MaxSubstFile)
		return "", false
	}
	s.files = append(s.files, full)
	text := strings.TrimSuffix(string(data), "\n")
	text = strings.TrimSuffix(text, "\r")
	return text, true
}

// pathErr drops the path os repeats ("open /x: no such file"): the message
// already names it.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func validName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, r := range name {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func (s *substituter) errorf(n *yaml.Node, key, format string, args ...any) {
	s.errs = append(s.errs, &Error{File: s.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// redact hides substituted text in msg: a secret read from a file or the
// environment must not reach logs through an error about some key.
func (s *substituter) redact(msg string) string {
	if s == nil {
		return msg
	}
	// Longest first, so a whole value goes before the pieces it contains.
	sort.SliceStable(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
	for _, v := range s.secrets {
		msg = strings.ReplaceAll(msg, v, "(substituted value)")
	}
	return msg
}

func (s *substituter) redactAll(errs Errors) {
	for _, e := range errs {
		e.Msg = s.redact(e.Msg)
	}
}

// Files returns the files read by ${file:} references, for a loader that
// reloads when they change.
func (l *Lines) Files() []string {
	files := append([]string(nil), l.d.subst.files...)
	sort.Strings(files)
	return slices.Compact(files)
}
