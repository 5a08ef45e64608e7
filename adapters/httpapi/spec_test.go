package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSpecRoutes_RefusesRulesItCannotApply: a body rule the spec states and
// readBody would not apply fails at start-up instead of being ignored.
func TestSpecRoutes_RefusesRulesItCannotApply(t *testing.T) {
	t.Parallel()
	doc := func(props string) []byte {
		return fmt.Appendf(nil, `{"paths":{"/x":{"post":{"requestBody":{"content":{"application/json":
			{"schema":{"$ref":"#/components/schemas/X"}}}}}}},
			"components":{"schemas":{"X":{"type":"object","properties":{%s}},
			"L":{"type":"array","items":{"type":"string"}},"C":{"type":"string","x-comma-separated":true}}}}`, props)
	}
	sr, err := compileSpecRoutes(doc(`"a":{"type":"integer","default":7,"minimum":1,"x-order":2},"b":{"type":"string","x-order":1}`))
	require.NoError(t, err)
	spec := sr.bodies["POST /x"]
	require.True(t, spec.emptyIsObject, "an optional body counts as {}")
	require.False(t, spec.patch)
	require.Equal(t, "b", spec.fields[0].name, "fields in x-order")
	require.Equal(t, int64(7), spec.fields[1].def)
	require.Equal(t, int64(1), *spec.fields[1].min)

	// A free-form object and a list of any items are the handler's to check.
	sr, err = compileSpecRoutes(doc(`"a":{"type":"object","x-order":1},"b":{"type":"array","items":{},"maxItems":2,"x-order":2}`))
	require.NoError(t, err)
	spec = sr.bodies["POST /x"]
	require.Equal(t, kindObject, spec.fields[0].kind)
	require.Equal(t, kindAnyList, spec.fields[1].kind)
	require.Equal(t, int64(2), *spec.fields[1].maxItems)

	for name, props := range map[string]string{
		"Enum":              `"a":{"type":"string","enum":["x"]}`,
		"DateTime":          `"a":{"type":"string","format":"date-time"}`,
		"Number":            `"a":{"type":"number"}`,
		"ObjectProperties":  `"a":{"type":"object","properties":{"b":{"type":"string"}}}`,
		"AnyItemsTyped":     `"a":{"type":"array","items":{"type":"object"}}`,
		"FractionalBound":   `"a":{"type":"integer","maximum":1.5}`,
		"NegativeLength":    `"a":{"type":"string","maxLength":-1}`,
		"MaxLengthOnInt":    `"a":{"type":"integer","maxLength":3}`,
		"MinimumOnString":   `"a":{"type":"string","minimum":3}`,
		"PatternOnList":     `"a":{"type":"array","items":{"type":"string"},"pattern":"x"}`,
		"MaxItemsOnString":  `"a":{"type":"string","maxItems":3}`,
		"BadPattern":        `"a":{"type":"string","pattern":"(?<=x)"}`,
		"ArrayOfInts":       `"a":{"type":"array","items":{"type":"integer"}}`,
		"ItemEnum":          `"a":{"type":"array","items":{"type":"string","enum":["x"]}}`,
		"BoolDefaultString": `"a":{"type":"boolean","default":"yes"}`,
		"OneOfOfStrings":    `"a":{"oneOf":[{"type":"string"},{"type":"string"}]}`,
		"OneOfNoComma":      `"a":{"oneOf":[{"$ref":"#/components/schemas/L"},{"type":"string"}]}`,
		"OneOfThree":        `"a":{"oneOf":[{"$ref":"#/components/schemas/L"},{"$ref":"#/components/schemas/C"},{"type":"string"}]}`,
		"OneOfWithType":     `"a":{"type":"array","oneOf":[{"$ref":"#/components/schemas/L"},{"$ref":"#/components/schemas/C"}]}`,
		"CommaAlone":        `"a":{"type":"string","x-comma-separated":true}`,
		"AllOfTwo":          `"a":{"allOf":[{"$ref":"#/components/schemas/L"},{"$ref":"#/components/schemas/C"}]}`,
		"AllOfWithRule":     `"a":{"allOf":[{"$ref":"#/components/schemas/C"}],"maxLength":3}`,
		"NoOrder":           `"a":{"type":"string"},"b":{"type":"string"}`,
		"SameOrder":         `"a":{"type":"string","x-order":1},"b":{"type":"string","x-order":1}`,
	} {
		_, err := compileSpecRoutes(doc(props))
		require.Error(t, err, name)
	}

	// Both JSON media types with different schemas cannot be checked as one.
	_, err = compileSpecRoutes([]byte(`{"paths":{"/x":{"patch":{"requestBody":{"content":{
		"application/json":{"schema":{"$ref":"#/components/schemas/X"}},
		"application/merge-patch+json":{"schema":{"$ref":"#/components/schemas/Y"}}}}}}},
		"components":{"schemas":{"X":{"type":"object","properties":{"a":{"type":"string"}}},
		"Y":{"type":"object","properties":{"b":{"type":"string"}}}}}}`))
	require.Error(t, err)
}

// TestSpecRoutes_EmbeddedSpec: every JSON body of openapi/bay.yaml compiles
// and lands on a route of the table.
func TestSpecRoutes_EmbeddedSpec(t *testing.T) {
	t.Parallel()
	sr, err := loadSpecRoutes()
	require.NoError(t, err)
	require.Len(t, sr.bodies, 17)
	require.Equal(t, map[string]bool{"POST /v1/sandboxes/{sandbox_id}/filesystem/upload": true}, sr.uploads)
	routes := routeTable()
	require.NotPanics(t, func() { applySpecRoutes(routes, sr) })
	for pattern, rt := range routes {
		if sr.bodies[pattern] != nil {
			require.Same(t, sr.bodies[pattern], rt.body, pattern)
		}
	}
	for pattern, spec := range sr.bodies {
		require.Equal(t, strings.HasPrefix(pattern, "PATCH "), spec.patch, pattern)
	}
}

// TestSpecRoutes_ExecutionBodies: the rules of the execution bodies
// (agent-reach.md §1.2, §1.4, §2.2) as readBody applies them.
func TestSpecRoutes_ExecutionBodies(t *testing.T) {
	t.Parallel()
	sr, err := loadSpecRoutes()
	require.NoError(t, err)
	const (
		python      = "POST /v1/sandboxes/{sandbox_id}/python/exec"
		shell       = "POST /v1/sandboxes/{sandbox_id}/shell/exec"
		pythonAsync = "POST /v1/sandboxes/{sandbox_id}/python/exec/async"
		shellStream = "POST /v1/sandboxes/{sandbox_id}/shell/exec/stream"
		patch       = "PATCH /v1/sandboxes/{sandbox_id}/executions/{execution_id}"
		histPatch   = "PATCH /v1/sandboxes/{sandbox_id}/history/{execution_id}"
	)
	canon := func(route, body string) string {
		t.Helper()
		b, err := readBody(strings.NewReader(body), sr.bodies[route])
		require.NoError(t, err, body)
		return string(b)
	}
	refused := func(route, body string) []fieldError {
		t.Helper()
		_, err := readBody(strings.NewReader(body), sr.bodies[route])
		var se *shapeError
		require.ErrorAs(t, err, &se, body)
		return se.items
	}

	t.Run("Canonical", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, `{"code":"1","timeout":30,"description":null,"tags":null,"include_code":false}`, canon(python, `{"code":"1"}`))
		require.Equal(t, `{"command":"ls","timeout":30,"cwd":null,"description":"d","tags":["a","release:42"],"include_code":true}`,
			canon(shell, `{"command":"ls","description":"d","tags":["a","release:42"],"include_code":true}`))
		// The comma-separated form of upstream clients is canonically the list.
		require.Equal(t, `{"code":"1","timeout":3600,"description":null,"tags":["a","b","c"],"include_code":false}`,
			canon(pythonAsync, `{"code":"1","timeout":3600,"tags":" a, b,,c "}`))
		require.Equal(t, canon(pythonAsync, `{"code":"1","tags":["a","b"]}`), canon(pythonAsync, `{"code":"1","tags":"a,b"}`))
		require.Equal(t, `{"code":"1","timeout":30,"description":null,"tags":[],"include_code":false}`, canon(python, `{"code":"1","tags":""}`))
		for _, v := range []string{`true`, `1`, `"yes"`, `"ON"`, `"true"`} {
			require.Contains(t, canon(python, `{"code":"1","include_code":`+v+`}`), `"include_code":true`, v)
		}
		for _, v := range []string{`false`, `0`, `"no"`, `"off"`} {
			require.Contains(t, canon(python, `{"code":"1","include_code":`+v+`}`), `"include_code":false`, v)
		}
		require.Contains(t, canon(python, `{"code":"1","description":"`+strings.Repeat("é", 4096)+`"}`), "é", "4096 characters, not bytes")
		require.Contains(t, canon(python, `{"code":"1","tags":["`+strings.Repeat("a", 64)+`"]}`), strings.Repeat("a", 64))
	})

	t.Run("MergePatch", func(t *testing.T) {
		t.Parallel()
		for _, route := range []string{patch, histPatch} {
			require.Equal(t, `{}`, canon(route, `{}`), "absent stays absent")
			require.Equal(t, `{"description":null,"notes":"keep"}`, canon(route, `{"notes":"keep","description":null}`))
			require.Equal(t, `{"tags":null}`, canon(route, `{"tags":null}`))
			require.Equal(t, `{"tags":["x","y"]}`, canon(route, `{"tags":"x,y"}`))
			items := refused(route, ``)
			require.Equal(t, []any{"body"}, items[0].Loc)
		}
		items := refused(patch, `{"notes":"`+strings.Repeat("n", 16385)+`"}`)
		require.Equal(t, []any{"body", "notes"}, items[0].Loc)
		require.Equal(t, "string_too_long", items[0].Type)
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		seventeen := `["t0"` + strings.Repeat(`,"t"`, 16) + `]`
		for _, c := range []struct {
			name, route, body string
			loc               []any
			typ               string
		}{
			{"TagsNotListOrString", python, `{"code":"1","tags":5}`, []any{"body", "tags"}, "list_type"},
			{"TagsObject", python, `{"code":"1","tags":{"a":1}}`, []any{"body", "tags"}, "list_type"},
			{"TooManyTags", python, `{"code":"1","tags":` + seventeen + `}`, []any{"body", "tags"}, "too_long"},
			{"TooManyCommaTags", shell, `{"command":"ls","tags":"` + strings.Repeat("t,", 17) + `"}`, []any{"body", "tags"}, "too_long"},
			{"TagPattern", python, `{"code":"1","tags":["ok","no space"]}`, []any{"body", "tags", 1}, "string_pattern_mismatch"},
			{"CommaTagPattern", python, `{"code":"1","tags":"ok,no space"}`, []any{"body", "tags"}, "string_pattern_mismatch"},
			{"TagEmpty", python, `{"code":"1","tags":[""]}`, []any{"body", "tags", 0}, "string_too_short"},
			{"TagTooLong", shellStream, `{"command":"ls","tags":["` + strings.Repeat("a", 65) + `"]}`, []any{"body", "tags", 0}, "string_too_long"},
			{"TagNotString", python, `{"code":"1","tags":["a",1]}`, []any{"body", "tags", 1}, "string_type"},
			{"DescriptionTooLong", python, `{"code":"1","description":"` + strings.Repeat("d", 4097) + `"}`, []any{"body", "description"}, "string_too_long"},
			{"DescriptionNotString", shell, `{"command":"ls","description":1}`, []any{"body", "description"}, "string_type"},
			{"IncludeCodeNotBool", python, `{"code":"1","include_code":"maybe"}`, []any{"body", "include_code"}, "bool_parsing"},
			{"IncludeCodeNumber", python, `{"code":"1","include_code":2}`, []any{"body", "include_code"}, "bool_parsing"},
			{"IncludeCodeNull", python, `{"code":"1","include_code":null}`, []any{"body", "include_code"}, "bool_type"},
			{"SyncTimeout", python, `{"code":"1","timeout":301}`, []any{"body", "timeout"}, "less_than_equal"},
			{"LongTimeout", pythonAsync, `{"code":"1","timeout":3601}`, []any{"body", "timeout"}, "less_than_equal"},
			{"PatchTagPattern", patch, `{"tags":["a b"]}`, []any{"body", "tags", 0}, "string_pattern_mismatch"},
			{"PatchDescriptionType", histPatch, `{"description":["x"]}`, []any{"body", "description"}, "string_type"},
		} {
			items := refused(c.route, c.body)
			require.Len(t, items, 1, c.name)
			require.Equal(t, c.loc, items[0].Loc, c.name)
			require.Equal(t, c.typ, items[0].Type, c.name)
			require.NotEmpty(t, items[0].Msg, c.name)
		}
		items := refused(python, `{"code":"1","tags":"a,b c,d e"}`)
		require.Len(t, items, 2, "every bad part is named")
		require.Contains(t, items[0].Msg, `"b c"`)
	})
}
