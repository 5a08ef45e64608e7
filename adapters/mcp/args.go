package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/bayhq/bay/core"
)

// Identifier formats, checked before any lookup (agent-reach.md §4.2).
var (
	sandboxIDPattern   = regexp.MustCompile(`^sandbox-[0-9a-f]{12}$`)
	executionIDPattern = regexp.MustCompile(`^exec-[0-9a-f]{12}$`)
	lockerIDPattern    = regexp.MustCompile(`^locker-[0-9a-f]{12}$`)
)

// argInvalid is a validation_error about one argument; details.loc names
// it as the API's 422 items do.
func argInvalid(field, format string, a ...any) *core.Error {
	return core.Invalid(format, a...).WithDetails(map[string]any{"loc": []any{"arguments", field}})
}

// CheckSandboxID refuses a sandbox id that is not "sandbox-" and 12
// lowercase hex digits.
func CheckSandboxID(field, id string) error {
	return checkID(field, id, sandboxIDPattern, "sandbox-<12 lowercase hex digits>")
}

// CheckExecutionID refuses an execution id that is not "exec-" and 12
// lowercase hex digits.
func CheckExecutionID(field, id string) error {
	return checkID(field, id, executionIDPattern, "exec-<12 lowercase hex digits>")
}

func checkID(field, id string, re *regexp.Regexp, form string) error {
	if re.MatchString(id) {
		return nil
	}
	shown := id
	if len(shown) > 80 {
		shown = shown[:80] + "…"
	}
	return argInvalid(field, "%s must look like %s, got %q", field, form, shown)
}

// args is a tool call's arguments as sent: a JSON object.
type args map[string]json.RawMessage

// parseArgs reads the arguments of a call; none means an empty object.
func parseArgs(raw json.RawMessage) (args, error) {
	a := args{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return a, nil
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, core.Invalid("The arguments must be a JSON object")
	}
	return a, nil
}

// has reports whether the argument was sent (null included).
func (a args) has(name string) bool {
	_, ok := a[name]
	return ok
}

// isNull reports whether the argument was sent as null.
func (a args) isNull(name string) bool {
	v, ok := a[name]
	return ok && string(bytes.TrimSpace(v)) == "null"
}

// require refuses a call that lacks one of the named arguments (or sends
// it as null).
func (a args) require(names ...string) error {
	for _, n := range names {
		if !a.has(n) || a.isNull(n) {
			return argInvalid(n, "%s is required", n)
		}
	}
	return nil
}

// decode fills dst, a struct with json tags, from the arguments. Unknown
// arguments are ignored, as the API ignores unknown body fields.
func (a args) decode(dst any) error {
	b, err := json.Marshal(map[string]json.RawMessage(a))
	if err != nil {
		return core.Invalid("The arguments must be a JSON object")
	}
	err = json.Unmarshal(b, dst)
	var te *json.UnmarshalTypeError
	var ae *argError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return argInvalid(ae.field, "%s", ae.msg)
	case errors.As(err, &te) && te.Field != "":
		field, _, _ := strings.Cut(te.Field, ".")
		return argInvalid(field, "%s must be %s", field, jsonTypeName(te.Type.Kind().String()))
	default:
		return core.Invalid("Invalid arguments: %v", err)
	}
}

func jsonTypeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "bool":
		return "a boolean"
	case kind == "string":
		return "a string"
	case kind == "slice":
		return "an array"
	default:
		return "an object"
	}
}

// argError is a decoding failure that names its argument.
type argError struct{ field, msg string }

func (e *argError) Error() string { return e.field + ": " + e.msg }

// tagList is the tags argument: a list of strings or, as upstream clients
// send it, one comma-separated string.
type tagList []string

// UnmarshalJSON accepts a list of strings, a comma-separated string or null.
func (t *tagList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return &argError{"tags", "tags must be a list of strings or a comma-separated string"}
		}
		*t = core.SplitTags(s)
		return nil
	default:
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return &argError{"tags", "tags must be a list of strings or a comma-separated string"}
		}
		*t = list
		return nil
	}
}

// intArg returns an optional integer argument, its default when absent,
// refused outside [min, max].
func intArg(field string, v *int, def, min, max int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < min || *v > max {
		return 0, argInvalid(field, "%s must be between %d and %d", field, min, max)
	}
	return *v, nil
}

// inputSchema infers a tool's input schema from T's fields and json tags
// (jsonschema.For), lets tune add the constraints the tags cannot say, and
// allows unknown properties (they are ignored, as in the API). Optional
// pointer fields are plain types: absent is the default, not null.
func inputSchema[T any](tune func(p props)) *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: input schema of %T: %v", *new(T), err))
	}
	s.AdditionalProperties = nil
	if s.Properties == nil {
		s.Properties = map[string]*jsonschema.Schema{}
	}
	for _, p := range s.Properties {
		denull(p)
	}
	if tune != nil {
		tune(props(s.Properties))
	}
	return s
}

// outputSchema infers a tool's output schema from T.
func outputSchema[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: output schema of %T: %v", *new(T), err))
	}
	return s
}

func denull(s *jsonschema.Schema) {
	if len(s.Types) == 2 && s.Types[0] == "null" {
		s.Type, s.Types = s.Types[1], nil
	}
}

// props are a schema's properties, with helpers to constrain them.
type props map[string]*jsonschema.Schema

func (p props) get(name string) *jsonschema.Schema {
	s, ok := p[name]
	if !ok {
		panic("mcp: schema has no property " + name)
	}
	return s
}

func (p props) pattern(name string, re *regexp.Regexp) props {
	p.get(name).Pattern = re.String()
	return p
}

func (p props) rangeOf(name string, min, max float64) props {
	s := p.get(name)
	s.Minimum, s.Maximum = &min, &max
	return p
}

func (p props) minimum(name string, min float64) props {
	p.get(name).Minimum = &min
	return p
}

func (p props) def(name string, v any) props {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	p.get(name).Default = b
	return p
}

func (p props) enum(name string, values ...string) props {
	s := p.get(name)
	s.Enum = nil
	for _, v := range values {
		s.Enum = append(s.Enum, v)
	}
	return p
}

func (p props) maxLength(name string, n int) props {
	p.get(name).MaxLength = &n
	return p
}

func (p props) maxItems(name string, n int) props {
	p.get(name).MaxItems = &n
	return p
}

// nullable lets a property be null too (a merge-patch's "clear").
func (p props) nullable(name string) props {
	s := p.get(name)
	if s.Type != "" {
		s.Types, s.Type = []string{"null", s.Type}, ""
	}
	return p
}
