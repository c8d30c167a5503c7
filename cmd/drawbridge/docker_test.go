package main

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// No Docker engine is needed: these tests read the Dockerfile, check that
// its builder runs scripts/release.sh's `go build` line and that the image
// runs as non-root, and build the binary with exactly that line.

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, USER, ...
	args string
}

// parseDockerfile splits a Dockerfile into stages (each starting at FROM).
func parseDockerfile(t *testing.T, text string) [][]instruction {
	t.Helper()
	var stages [][]instruction
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %s before the first FROM", in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // comments may sit between continuation lines too
		}
		if body, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

// buildLine is a `CGO_ENABLED=... go build ... ./cmd/drawbridge` command
// as written (variables not expanded): its environment assignments, its
// flags (without -o) and its output path.
type buildLine struct {
	env   map[string]string
	flags []string
	out   string
}

var goBuildRe = regexp.MustCompile(`CGO_ENABLED=\S*\s.*?\bgo build\b.*?\./cmd/drawbridge`)

// extractBuild finds the one go build command in text and splits it into
// words the way a shell does for this simple form: spaces separate words,
// double quotes group them, `\` continuations are joined first.
func extractBuild(t *testing.T, where, text string) buildLine {
	t.Helper()
	joined := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(text, " ")
	found := goBuildRe.FindAllString(joined, -1)
	if len(found) != 1 {
		t.Fatalf("%s: want exactly one `CGO_ENABLED=... go build ... ./cmd/drawbridge` line, found %d", where, len(found))
	}
	var words []string
	var w strings.Builder
	inQuote, inWord := false, false
	for _, r := range found[0] {
		switch {
		case r == '"':
			inQuote, inWord = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	b := buildLine{env: map[string]string{}}
	i := 0
	for ; i < len(words) && words[i] != "go"; i++ {
		k, v, ok := strings.Cut(words[i], "=")
		if !ok {
			t.Fatalf("%s: %q before `go build` is not an environment assignment", where, words[i])
		}
		b.env[k] = v
	}
	if i+1 >= len(words) || words[i+1] != "build" || words[len(words)-1] != "./cmd/drawbridge" {
		t.Fatalf("%s: cannot read %q as `go build ... ./cmd/drawbridge`", where, found[0])
	}
	for j := i + 2; j < len(words)-1; j++ {
		if words[j] == "-o" && j+1 < len(words)-1 {
			b.out = words[j+1]
			j++
			continue
		}
		b.flags = append(b.flags, words[j])
	}
	return b
}

// shellVar finds NAME=value assignments of a variable in a script.
func shellVar(t *testing.T, where, text, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)\b` + name + `=(\S+?)(?:\s|$)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("%s: no %s=... assignment", where, name)
	}
	return m[1]
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type dockerfile struct {
	stages  [][]instruction
	builder []instruction // the stage with the go build
	final   []instruction
	build   buildLine
}

func loadDockerfile(t *testing.T) dockerfile {
	t.Helper()
	text := readRepoFile(t, "Dockerfile")
	d := dockerfile{stages: parseDockerfile(t, text)}
	if len(d.stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a builder and a final stage", len(d.stages))
	}
	for _, st := range d.stages {
		for _, in := range st {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
				d.builder = st
				d.build = extractBuild(t, "Dockerfile", in.args)
			}
		}
	}
	if d.builder == nil {
		t.Fatal("Dockerfile: no stage RUNs go build")
	}
	d.final = d.stages[len(d.stages)-1]
	return d
}

func TestDockerfileBuildsLikeReleaseScript(t *testing.T) {
	d := loadDockerfile(t)
	script := readRepoFile(t, "scripts/release.sh")
	rel := extractBuild(t, "scripts/release.sh", script)

	if !slices.Equal(d.build.flags, rel.flags) {
		t.Errorf("go build flags differ:\nDockerfile:         %q\nscripts/release.sh: %q", d.build.flags, rel.flags)
	}
	// GOARCH differs by design (buildx's TARGETARCH, the script's loop).
	for _, k := range []string{"CGO_ENABLED", "GOOS"} {
		if d.build.env[k] != rel.env[k] || rel.env[k] == "" {
			t.Errorf("%s: Dockerfile %q, scripts/release.sh %q", k, d.build.env[k], rel.env[k])
		}
	}
	if d.build.env["CGO_ENABLED"] != "0" {
		t.Errorf("CGO_ENABLED=%q: the image's distroless base has no libc", d.build.env["CGO_ENABLED"])
	}
	dockerText := readRepoFile(t, "Dockerfile")
	for _, v := range []string{"PKG", "GOAMD64", "GOARM64"} {
		if a, b := shellVar(t, "Dockerfile", dockerText, v), shellVar(t, "scripts/release.sh", script, v); a != b {
			t.Errorf("%s: Dockerfile %q, scripts/release.sh %q", v, a, b)
		}
	}

	// The builder is go.mod's Go, so image and release binary match.
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	from := d.builder[0].args
	if goVersion == nil || !strings.Contains(from, "golang:"+goVersion[1]+"-") && !strings.Contains(from, "golang:"+goVersion[1]+" ") {
		t.Errorf("builder %q: want the golang image of go.mod's Go version %v", from, goVersion)
	}
}

func TestDockerImageRunsAsNonRootDrawbridge(t *testing.T) {
	d := loadDockerfile(t)
	user, entry := "", ""
	var copied []string
	for _, in := range d.final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "COPY":
			copied = append(copied, in.args)
		}
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("final stage USER %q: want a non-root user", user)
	}
	// The entrypoint is the binary the builder wrote, copied in.
	var dest string
	for _, c := range copied {
		if f := strings.Fields(c); len(f) == 3 && strings.HasPrefix(f[0], "--from=") && f[1] == d.build.out {
			dest = f[2]
		}
	}
	if dest == "" || !strings.HasPrefix(entry, `["`+dest+`"`) {
		t.Errorf("final stage: ENTRYPOINT %s, COPY %q; want the entrypoint to be the builder's %s", entry, copied, d.build.out)
	}
}

// Build the binary with exactly the Dockerfile's line, build args filled in.
func TestDockerBuildLineBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	d := loadDockerfile(t)
	dockerText := readRepoFile(t, "Dockerfile")
	dir, head := checkout(t)
	vars := map[string]string{
		"PKG":        shellVar(t, "Dockerfile", dockerText, "PKG"),
		"TARGETARCH": runtime.GOARCH,
		"VERSION":    "v0.0.0-docker-test",
		"COMMIT":     "", // the image's default: Go reads .git
		"DATE":       "",
		"GOAMD64":    shellVar(t, "Dockerfile", dockerText, "GOAMD64"),
		"GOARM64":    shellVar(t, "Dockerfile", dockerText, "GOARM64"),
	}
	expand := func(s string) string { return os.Expand(s, func(k string) string { return vars[k] }) }
	var env []string
	for k, v := range d.build.env {
		env = append(env, k+"="+expand(v))
	}
	env = append(env, "GOAMD64="+vars["GOAMD64"], "GOARM64="+vars["GOARM64"])
	var flags []string
	for _, f := range d.build.flags {
		flags = append(flags, expand(f))
	}
	bin := goBuild(t, dir, env, flags...)
	out := runBinary(t, bin, "version")
	for _, want := range []string{"drawbridge v0.0.0-docker-test\n", "commit:  " + head} {
		if !strings.Contains(out, want) {
			t.Errorf("binary built with the Dockerfile's line: version = %q; lacks %q", out, want)
		}
	}
}
