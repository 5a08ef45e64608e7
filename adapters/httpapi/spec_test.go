package httpapi

import (
	"fmt"
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
			"components":{"schemas":{"X":{"type":"object","properties":{%s}}}}}`, props)
	}
	sr, err := compileSpecRoutes(doc(`"a":{"type":"integer","default":7,"minimum":1,"x-order":2},"b":{"type":"string","x-order":1}`))
	require.NoError(t, err)
	spec := sr.bodies["POST /x"]
	require.True(t, spec.emptyIsObject, "an optional body counts as {}")
	require.Equal(t, "b", spec.fields[0].name, "fields in x-order")
	require.Equal(t, int64(7), spec.fields[1].def)
	require.Equal(t, int64(1), *spec.fields[1].min)

	for name, props := range map[string]string{
		"Enum":            `"a":{"type":"string","enum":["x"]}`,
		"MaxLength":       `"a":{"type":"string","maxLength":3}`,
		"Pattern":         `"a":{"type":"string","pattern":"^x$"}`,
		"DateTime":        `"a":{"type":"string","format":"date-time"}`,
		"Boolean":         `"a":{"type":"boolean"}`,
		"FractionalBound": `"a":{"type":"integer","maximum":1.5}`,
		"ArrayOfInts":     `"a":{"type":"array","items":{"type":"integer"}}`,
		"NoOrder":         `"a":{"type":"string"},"b":{"type":"string"}`,
		"SameOrder":       `"a":{"type":"string","x-order":1},"b":{"type":"string","x-order":1}`,
	} {
		_, err := compileSpecRoutes(doc(props))
		require.Error(t, err, name)
	}
}

// TestSpecRoutes_EmbeddedSpec: every JSON body of openapi/bay.yaml compiles
// and lands on a route of the table.
func TestSpecRoutes_EmbeddedSpec(t *testing.T) {
	t.Parallel()
	sr, err := loadSpecRoutes()
	require.NoError(t, err)
	require.Len(t, sr.bodies, 9)
	require.Equal(t, map[string]bool{"POST /v1/sandboxes/{sandbox_id}/filesystem/upload": true}, sr.uploads)
	routes := routeTable()
	require.NotPanics(t, func() { applySpecRoutes(routes, sr) })
	for pattern, rt := range routes {
		if sr.bodies[pattern] != nil {
			require.Same(t, sr.bodies[pattern], rt.body, pattern)
		}
	}
}
