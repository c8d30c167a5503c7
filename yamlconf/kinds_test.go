package yamlconf

import (
	"reflect"
	"strings"
	"testing"
)

// A small tagged union, as a configuration package would declare one.
type shape interface{ area() float64 }

type circle struct {
	Radius float64 `yaml:"radius"`
}

func (c *circle) area() float64 { return 3 * c.Radius * c.Radius }

type rect struct {
	Width  float64 `yaml:"width"`
	Height float64 `yaml:"height"`
	Label  string  `yaml:"label"`
}

func (r *rect) SetDefaults()  { r.Label = "box" }
func (r *rect) area() float64 { return r.Width * r.Height }

type square struct {
	Width float64 `yaml:"width"`
}

func (s *square) area() float64 { return s.Width * s.Width }

var shapes = NewKinds("shape type", "shapes",
	Kind[shape]{Name: "circle", New: func() shape { return new(circle) }},
	Kind[shape]{Name: "rect", New: func() shape { return new(rect) }},
	Kind[shape]{Name: "square", New: func() shape { return new(square) }},
)

type shapeConfig struct {
	Type  string `yaml:"type"`
	Color string `yaml:"color"`
	Spec  shape  `yaml:",spec"`
}

func (s *shapeConfig) Union() (string, any) { return "type", shapes }
func (s *shapeConfig) SetDefaults()         { s.Type, s.Spec = "circle", new(circle) }

type drawing struct {
	Shapes []shapeConfig `yaml:"shapes"`
	One    shapeConfig   `yaml:"one"`
}

func (d *drawing) SetDefaults() { d.One.SetDefaults() }

func TestUnionDecodesTheKindsOwnConfig(t *testing.T) {
	var d drawing
	_, err := Decode("d.yaml", []byte(`shapes:
  - {type: rect, width: 2, height: 3, color: red}
  - color: blue
    radius: 2
  - width: 4
    type: square
`), &d)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := d.Shapes[0].Spec.(*rect)
	if !ok || r.area() != 6 || r.Label != "box" || d.Shapes[0].Color != "red" {
		t.Errorf("shapes[0] = %+v (spec %+v): want a 2x3 rect with its default label", d.Shapes[0], d.Shapes[0].Spec)
	}
	if c, ok := d.Shapes[1].Spec.(*circle); !ok || c.Radius != 2 || d.Shapes[1].Type != "circle" {
		t.Errorf("shapes[1] = %+v: want the default kind, a circle of radius 2", d.Shapes[1])
	}
	// The kind is read first wherever it is written.
	if s, ok := d.Shapes[2].Spec.(*square); !ok || s.Width != 4 {
		t.Errorf("shapes[2] = %+v: want a square of width 4", d.Shapes[2])
	}
	// Left out, the union keeps its defaults.
	if _, ok := d.One.Spec.(*circle); !ok || d.One.Type != "circle" {
		t.Errorf("one = %+v: want the default circle", d.One)
	}
}

func TestUnionMisplacedKeyIsAnErrorWhereverWritten(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"flow style, one line", "shapes:\n  - {type: circle, width: 2}\n", "d.yaml:2: shapes[0].width: applies to rect and square shapes, not circle"},
		{"before the type", "shapes:\n  - height: 2\n    type: square\n", "d.yaml:2: shapes[0].height: applies to rect shapes, not square"},
		{"after the type", "one:\n  type: circle\n  label: x\n", "d.yaml:3: one.label: applies to rect shapes, not circle"},
		{"the default kind", "one:\n  height: 1\n", "d.yaml:2: one.height: applies to rect shapes, not circle"},
		{"no kind has it", "one:\n  type: rect\n  depth: 1\n", "d.yaml:3: one.depth: unknown key"},
		{"a kind that is not a string", "one:\n  type: [rect]\n  width: 1\n", `d.yaml:2: one.type: expected a string, got a list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d drawing
			_, err := Decode("d.yaml", []byte(tc.yaml), &d)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestUnionUnknownKindNamesTheKnownOnes(t *testing.T) {
	var d drawing
	_, err := Decode("d.yaml", []byte("shapes:\n  - type: rectangle\n    width: 1\n  - color: red\n    type: ''\n"), &d)
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		`d.yaml:2: shapes[0].type: unknown shape type "rectangle" (did you mean "rect"?); want one of circle, rect, square`,
		`d.yaml:5: shapes[1].type: required; want one of circle, rect, square`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestKindsRoundTrip(t *testing.T) {
	for _, name := range shapes.Names() {
		s, err := shapes.New(name)
		if err != nil {
			t.Fatalf("New(%s): %v", name, err)
		}
		if got := shapes.NameOf(s); got != name {
			t.Errorf("NameOf(New(%s)) = %q", name, got)
		}
		var c shapeConfig
		if _, err := Decode("d.yaml", []byte("type: "+name+"\n"), &c); err != nil {
			t.Fatalf("type %s: %v", name, err)
		}
		if reflect.TypeOf(c.Spec) != reflect.TypeOf(s) || c.Type != name {
			t.Errorf("type %s decoded into %T", name, c.Spec)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	known := []string{"target_tracking", "step", "predictive", "scheduled"}
	for in, want := range map[string]string{
		"target":     ` (did you mean "target_tracking"?)`,
		"steps":      ` (did you mean "step"?)`,
		"Predictive": ` (did you mean "predictive"?)`,
		"sheduled":   ` (did you mean "scheduled"?)`,
		"magic":      "",
		"":           "",
	} {
		if got := DidYouMean(in, known); got != want {
			t.Errorf("DidYouMean(%q) = %q, want %q", in, got, want)
		}
	}
}
