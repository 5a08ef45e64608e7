package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// specRoutes is what the embedded OpenAPI document says about the request
// bodies of the routes: the rules of each JSON body, and which routes take a
// multipart upload (they get the upload size limit).
type specRoutes struct {
	bodies  map[string]*bodySpec // by route pattern, e.g. "POST /v1/sandboxes"
	uploads map[string]bool
}

// loadSpecRoutes reads the request bodies of the embedded document, once
// per process. It decodes the document's JSON directly rather than through
// an OpenAPI loader: that costs a fraction of the time and memory.
var loadSpecRoutes = sync.OnceValues(func() (*specRoutes, error) {
	return compileSpecRoutes(oapigen.Spec())
})

// specDoc is the part of an OpenAPI 3.0 document the body rules need.
type specDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas       map[string]json.RawMessage `json:"schemas"`
		RequestBodies map[string]json.RawMessage `json:"requestBodies"`
	} `json:"components"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func compileSpecRoutes(raw []byte) (*specRoutes, error) {
	var doc specDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode embedded spec: %w", err)
	}
	out := &specRoutes{bodies: map[string]*bodySpec{}, uploads: map[string]bool{}}
	for path, item := range doc.Paths {
		for method, rawOp := range item {
			if !slices.Contains(httpMethods, method) {
				continue // parameters, summary, ...
			}
			pattern := strings.ToUpper(method) + " " + path
			if err := out.addOperation(&doc, pattern, rawOp); err != nil {
				return nil, fmt.Errorf("%s: %w", pattern, err)
			}
		}
	}
	return out, nil
}

func (out *specRoutes) addOperation(doc *specDoc, pattern string, rawOp json.RawMessage) error {
	var op struct {
		RequestBody json.RawMessage `json:"requestBody"`
	}
	if err := json.Unmarshal(rawOp, &op); err != nil {
		return err
	}
	if op.RequestBody == nil {
		return nil
	}
	rawBody, err := doc.deref(op.RequestBody)
	if err != nil {
		return err
	}
	var rb struct {
		Required bool `json:"required"`
		Content  map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
	}
	if err := json.Unmarshal(rawBody, &rb); err != nil {
		return err
	}
	var jsonSchema json.RawMessage
	patch := false
	for _, ct := range slices.Sorted(maps.Keys(rb.Content)) {
		media := rb.Content[ct]
		switch ct {
		case contentJSON, contentMergePatch:
			// A route may take both, with one schema: the body is checked
			// the same way and handed on as application/json.
			if jsonSchema != nil && !bytes.Equal(jsonSchema, media.Schema) {
				return fmt.Errorf("%s and %s bodies must have the same schema", contentJSON, contentMergePatch)
			}
			jsonSchema = media.Schema
			patch = patch || ct == contentMergePatch
		case "multipart/form-data":
			out.uploads[pattern] = true
		default:
			return fmt.Errorf("request content type %s is not supported", ct)
		}
	}
	if jsonSchema != nil {
		spec, err := doc.compileBody(jsonSchema)
		if err != nil {
			return err
		}
		spec.emptyIsObject = !rb.Required
		spec.patch = patch
		out.bodies[pattern] = spec
	}
	return nil
}

// The JSON media types of request bodies. A route that also accepts a JSON
// merge patch (RFC 7396) has patch semantics whichever it is sent as: a
// field left out stays out of the canonical body (no default), so the
// handler can tell it from null.
const (
	contentJSON       = "application/json"
	contentMergePatch = "application/merge-patch+json"
)

// deref follows local $refs to components.
func (doc *specDoc) deref(raw json.RawMessage) (json.RawMessage, error) {
	for range 8 {
		var ref struct {
			Ref string `json:"$ref"`
		}
		if err := json.Unmarshal(raw, &ref); err != nil {
			return nil, err
		}
		if ref.Ref == "" {
			return raw, nil
		}
		var ok bool
		if name, found := strings.CutPrefix(ref.Ref, "#/components/schemas/"); found {
			raw, ok = doc.Components.Schemas[name]
		} else if name, found := strings.CutPrefix(ref.Ref, "#/components/requestBodies/"); found {
			raw, ok = doc.Components.RequestBodies[name]
		}
		if !ok {
			return nil, fmt.Errorf("unresolved $ref %s", ref.Ref)
		}
	}
	return nil, fmt.Errorf("$ref chain too long")
}

// The keywords a request body schema and its properties may use. Any other
// (an enum, a format, additionalProperties: false) would be a rule the spec
// states and readBody does not apply, so it is refused at start-up rather
// than silently ignored. Which keyword suits which type is checked in
// compileField. The x-go-* and x-omitzero hints only shape the generated Go
// types.
var (
	objectKeywords   = []string{"type", "properties", "required", "description", "example"}
	propertyKeywords = []string{
		"type", "format", "description", "example", "nullable", "default", "x-order",
		"minimum", "maximum", "minLength", "maxLength", "pattern", "items", "minItems", "maxItems",
		"oneOf", "allOf", "x-go-type", "x-go-type-skip-optional-pointer", "x-omitzero",
	}
	// allOfKeywords are those a property may put beside a one-schema allOf
	// (the OpenAPI 3.0 way to give a $ref a description or nullable).
	allOfKeywords = []string{
		"allOf", "description", "example", "nullable", "default", "x-order",
		"x-go-type", "x-go-type-skip-optional-pointer", "x-omitzero",
	}
	itemKeywords = []string{"type", "description", "minLength", "maxLength", "pattern"}
	// commaKeywords are those of the comma-separated string alternative of
	// a list (see compileOneOf).
	commaKeywords = []string{"type", "description", "example", "x-comma-separated"}
)

func checkKeywords(raw json.RawMessage, allowed []string) error {
	var kw map[string]json.RawMessage
	if err := json.Unmarshal(raw, &kw); err != nil {
		return err
	}
	for k := range kw {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("schema keyword %q is not supported in request bodies", k)
		}
	}
	return nil
}

// compileBody turns an object schema into a bodySpec.
func (doc *specDoc) compileBody(rawSchema json.RawMessage) (*bodySpec, error) {
	raw, err := doc.deref(rawSchema)
	if err != nil {
		return nil, err
	}
	if err := checkKeywords(raw, objectKeywords); err != nil {
		return nil, err
	}
	var obj struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	if obj.Type != "object" || len(obj.Properties) == 0 {
		return nil, fmt.Errorf("a JSON request body must be an object with properties")
	}
	type ordered struct {
		bodyField
		order *float64
	}
	fields := make([]ordered, 0, len(obj.Properties))
	for name, prop := range obj.Properties {
		f, order, err := doc.compileField(name, prop)
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		f.required = slices.Contains(obj.Required, name)
		if order == nil && len(obj.Properties) > 1 {
			// The embedded document is JSON with sorted keys: the order of
			// the YAML is gone, so it must be stated.
			return nil, fmt.Errorf("property %s: x-order is required when a body has several properties", name)
		}
		fields = append(fields, ordered{f, order})
	}
	for _, name := range obj.Required {
		if _, ok := obj.Properties[name]; !ok {
			return nil, fmt.Errorf("required property %s is not declared", name)
		}
	}
	slices.SortFunc(fields, func(a, b ordered) int {
		if a.order == nil || b.order == nil {
			return 0 // a single property
		}
		switch {
		case *a.order < *b.order:
			return -1
		case *a.order > *b.order:
			return 1
		}
		return 0
	})
	spec := &bodySpec{}
	for i, f := range fields {
		if i > 0 && *f.order == *fields[i-1].order {
			return nil, fmt.Errorf("properties %s and %s have the same x-order", fields[i-1].name, f.name)
		}
		spec.fields = append(spec.fields, f.bodyField)
	}
	return spec, nil
}

// propSchema is what compileField reads of a property schema.
type propSchema struct {
	Type      string            `json:"type"`
	Format    string            `json:"format"`
	Nullable  bool              `json:"nullable"`
	Default   json.RawMessage   `json:"default"`
	Minimum   *json.Number      `json:"minimum"`
	Maximum   *json.Number      `json:"maximum"`
	MinLength *json.Number      `json:"minLength"`
	MaxLength *json.Number      `json:"maxLength"`
	Pattern   *string           `json:"pattern"`
	Items     json.RawMessage   `json:"items"`
	MinItems  *json.Number      `json:"minItems"`
	MaxItems  *json.Number      `json:"maxItems"`
	OneOf     []json.RawMessage `json:"oneOf"`
	AllOf     []json.RawMessage `json:"allOf"`
	Order     *float64          `json:"x-order"`
}

func (doc *specDoc) compileField(name string, rawProp json.RawMessage) (bodyField, *float64, error) {
	f := bodyField{name: name}
	p, err := doc.propertySchema(rawProp)
	if err != nil {
		return f, nil, err
	}
	f.nullable = p.Nullable
	if len(p.OneOf) > 0 {
		if p.Type != "" {
			return f, nil, fmt.Errorf("oneOf replaces type")
		}
		if err := doc.compileOneOf(&f, p.OneOf); err != nil {
			return f, nil, err
		}
	} else {
		switch p.Type {
		case "string":
			f.kind = kindString
		case "integer":
			f.kind = kindInt
		case "boolean":
			f.kind = kindBool
		case "array":
			f.kind = kindStringList
			if anyItems(p.Items) {
				f.kind = kindAnyList
			}
		case "object":
			// A free-form object, checked by the handler (the keyword check
			// refuses properties: rules readBody would not apply).
			f.kind = kindObject
		default:
			return f, nil, fmt.Errorf("type %q is not supported in request bodies", p.Type)
		}
	}
	if p.Format != "" && !(f.kind == kindInt && (p.Format == "int32" || p.Format == "int64")) {
		return f, nil, fmt.Errorf("format %q is not supported in request bodies", p.Format)
	}
	if (p.Minimum != nil || p.Maximum != nil) && f.kind != kindInt {
		return f, nil, fmt.Errorf("minimum and maximum apply to integers only")
	}
	if (p.MinLength != nil || p.MaxLength != nil || p.Pattern != nil) && f.kind != kindString {
		return f, nil, fmt.Errorf("minLength, maxLength and pattern apply to strings only (of a list: to its items)")
	}
	if (p.Items != nil || p.MinItems != nil || p.MaxItems != nil) && ((f.kind != kindStringList && f.kind != kindAnyList) || len(p.OneOf) > 0) {
		return f, nil, fmt.Errorf("items, minItems and maxItems apply to arrays only")
	}
	if f.min, err = specInt(p.Minimum); err != nil {
		return f, nil, fmt.Errorf("minimum: %w", err)
	}
	if f.max, err = specInt(p.Maximum); err != nil {
		return f, nil, fmt.Errorf("maximum: %w", err)
	}
	switch {
	case f.kind == kindString:
		if f.str, err = compileStringRule(p.MinLength, p.MaxLength, p.Pattern); err != nil {
			return f, nil, err
		}
	case f.kind == kindStringList && len(p.OneOf) == 0:
		if err := doc.compileList(&f, p); err != nil {
			return f, nil, err
		}
	case f.kind == kindAnyList:
		if f.minItems, err = specCount(p.MinItems); err != nil {
			return f, nil, fmt.Errorf("minItems: %w", err)
		}
		if f.maxItems, err = specCount(p.MaxItems); err != nil {
			return f, nil, fmt.Errorf("maxItems: %w", err)
		}
	}
	if p.Default != nil {
		if f.def, err = specDefault(f.kind, p.Default); err != nil {
			return f, nil, fmt.Errorf("default: %w", err)
		}
	}
	return f, p.Order, nil
}

// propertySchema decodes a property, taking a one-schema allOf (a $ref
// with siblings, which OpenAPI 3.0 would otherwise ignore) apart: the
// property gets the referenced schema's rules plus the wrapper's nullable,
// default and x-order.
func (doc *specDoc) propertySchema(rawProp json.RawMessage) (propSchema, error) {
	var p propSchema
	raw, err := doc.deref(rawProp)
	if err != nil {
		return p, err
	}
	if err := checkKeywords(raw, propertyKeywords); err != nil {
		return p, err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, err
	}
	if p.AllOf == nil {
		return p, nil
	}
	if len(p.AllOf) != 1 {
		return p, fmt.Errorf("allOf must hold exactly one schema")
	}
	if err := checkKeywords(raw, allOfKeywords); err != nil {
		return p, fmt.Errorf("beside allOf: %w", err)
	}
	inner, err := doc.deref(p.AllOf[0])
	if err != nil {
		return p, err
	}
	if err := checkKeywords(inner, slices.DeleteFunc(slices.Clone(propertyKeywords), func(k string) bool {
		return k == "allOf" || k == "x-order"
	})); err != nil {
		return p, fmt.Errorf("in allOf: %w", err)
	}
	var in propSchema
	if err := json.Unmarshal(inner, &in); err != nil {
		return p, err
	}
	in.Nullable = in.Nullable || p.Nullable
	if p.Default != nil {
		in.Default = p.Default
	}
	in.Order = p.Order
	return in, nil
}

// anyItems reports whether an array's items schema is {} (or only
// described): items of any JSON type, which the handler checks.
func anyItems(raw json.RawMessage) bool {
	var kw map[string]json.RawMessage
	if raw == nil || json.Unmarshal(raw, &kw) != nil {
		return false
	}
	delete(kw, "description")
	return len(kw) == 0
}

// compileList reads the rules of an array of strings: its length and
// those of each item.
func (doc *specDoc) compileList(f *bodyField, p propSchema) error {
	if p.Items == nil {
		return fmt.Errorf("an array needs items")
	}
	raw, err := doc.deref(p.Items)
	if err != nil {
		return err
	}
	if err := checkKeywords(raw, itemKeywords); err != nil {
		return err
	}
	var items struct {
		Type      string       `json:"type"`
		MinLength *json.Number `json:"minLength"`
		MaxLength *json.Number `json:"maxLength"`
		Pattern   *string      `json:"pattern"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return err
	}
	if items.Type != "string" {
		return fmt.Errorf("only arrays of strings are supported in request bodies")
	}
	if f.item, err = compileStringRule(items.MinLength, items.MaxLength, items.Pattern); err != nil {
		return fmt.Errorf("items: %w", err)
	}
	if f.minItems, err = specCount(p.MinItems); err != nil {
		return fmt.Errorf("minItems: %w", err)
	}
	if f.maxItems, err = specCount(p.MaxItems); err != nil {
		return fmt.Errorf("maxItems: %w", err)
	}
	return nil
}

// compileOneOf reads the one oneOf request bodies support: a list of
// strings, or the same list as one comma-separated string (a schema of
// type string marked x-comma-separated). The field is a list; readBody
// splits the string form and checks the parts as the list's items.
func (doc *specDoc) compileOneOf(f *bodyField, alts []json.RawMessage) error {
	const want = "oneOf must be an array of strings and a string with x-comma-separated: true"
	if len(alts) != 2 {
		return errors.New(want)
	}
	var list, comma bool
	for _, alt := range alts {
		raw, err := doc.deref(alt)
		if err != nil {
			return err
		}
		var a struct {
			propSchema
			Comma bool `json:"x-comma-separated"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		switch {
		case a.Type == "array" && !list:
			if err := checkKeywords(raw, []string{"type", "description", "example", "items", "minItems", "maxItems"}); err != nil {
				return err
			}
			if err := doc.compileList(f, a.propSchema); err != nil {
				return err
			}
			list = true
		case a.Type == "string" && a.Comma && !comma:
			if err := checkKeywords(raw, commaKeywords); err != nil {
				return err
			}
			comma = true
		default:
			return errors.New(want)
		}
	}
	f.kind = kindStringList
	f.commaSeparated = true
	return nil
}

// compileStringRule reads the length bounds (in characters, as JSON Schema
// counts them) and the pattern of a string.
func compileStringRule(minLen, maxLen *json.Number, pattern *string) (stringRule, error) {
	var r stringRule
	var err error
	if r.minLen, err = specCount(minLen); err != nil {
		return r, fmt.Errorf("minLength: %w", err)
	}
	if r.maxLen, err = specCount(maxLen); err != nil {
		return r, fmt.Errorf("maxLength: %w", err)
	}
	if pattern != nil {
		// Go's RE2 syntax is not ECMA 262's, but they agree on the plain
		// classes and anchors a request pattern needs; one they do not
		// share fails here rather than matching differently.
		if r.pattern, err = regexp.Compile(*pattern); err != nil {
			return r, fmt.Errorf("pattern: %w", err)
		}
	}
	return r, nil
}

// specCount reads a non-negative integral bound.
func specCount(n *json.Number) (*int64, error) {
	v, err := specInt(n)
	if err == nil && v != nil && *v < 0 {
		err = fmt.Errorf("%s is negative", *n)
	}
	return v, err
}

// specInt reads an integral bound.
func specInt(n *json.Number) (*int64, error) {
	if n == nil {
		return nil, nil
	}
	v, msg, _ := numberToInt(string(*n), "")
	if msg != "" {
		return nil, fmt.Errorf("%s: %s", *n, msg)
	}
	return &v, nil
}

// specDefault returns the canonical value of a default: a string, an int64
// or a bool, rendered as the client could have sent it.
func specDefault(kind fieldKind, raw json.RawMessage) (any, error) {
	switch kind {
	case kindString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return s, nil
	case kindInt:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		v, err := specInt(&n)
		if err != nil {
			return nil, err
		}
		return *v, nil
	case kindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, err
		}
		return b, nil
	default:
		return nil, fmt.Errorf("defaults are supported on strings, integers and booleans only")
	}
}

// applySpecRoutes fills in the body rules and upload flags of the route
// table from the spec. A route the spec gives a body but the table lacks is
// a drift between the two and panics, as routeMux does.
func applySpecRoutes(routes map[string]route, sr *specRoutes) {
	for pattern, spec := range sr.bodies {
		rt, ok := routes[pattern]
		if !ok {
			panic(fmt.Sprintf("httpapi: route %q of the spec is missing from the route table", pattern))
		}
		rt.body = spec
		routes[pattern] = rt
	}
	for pattern := range sr.uploads {
		rt, ok := routes[pattern]
		if !ok {
			panic(fmt.Sprintf("httpapi: route %q of the spec is missing from the route table", pattern))
		}
		rt.upload = true
		routes[pattern] = rt
	}
}
