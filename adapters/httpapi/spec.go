package httpapi

import (
	"encoding/json"
	"fmt"
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

// rawSpecName is any name: PathToRawSpec, the generated accessor of the
// embedded document's JSON, keys it by the name it is given.
const rawSpecName = "bay.json"

// loadSpecRoutes reads the request bodies of the embedded document, once
// per process. It decodes the document's JSON directly rather than through
// the openapi3 loader (oapigen.GetSwagger): that costs a fraction of the
// time and memory, which start-up should not pay (see docs.go).
var loadSpecRoutes = sync.OnceValues(func() (*specRoutes, error) {
	raw, err := oapigen.PathToRawSpec(rawSpecName)[rawSpecName]()
	if err != nil {
		return nil, err
	}
	return compileSpecRoutes(raw)
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
	for ct, media := range rb.Content {
		switch ct {
		case "application/json":
			spec, err := doc.compileBody(media.Schema)
			if err != nil {
				return err
			}
			spec.emptyIsObject = !rb.Required
			out.bodies[pattern] = spec
		case "multipart/form-data":
			out.uploads[pattern] = true
		default:
			return fmt.Errorf("request content type %s is not supported", ct)
		}
	}
	return nil
}

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
// (an enum, a pattern, a length, additionalProperties: false) would be a
// rule the spec states and readBody does not apply, so it is refused at
// start-up rather than silently ignored.
var (
	objectKeywords   = []string{"type", "properties", "required", "description", "example"}
	propertyKeywords = []string{"type", "format", "description", "example", "nullable", "default", "minimum", "maximum", "items", "x-order"}
	itemKeywords     = []string{"type", "description"}
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

func (doc *specDoc) compileField(name string, rawProp json.RawMessage) (bodyField, *float64, error) {
	f := bodyField{name: name}
	raw, err := doc.deref(rawProp)
	if err != nil {
		return f, nil, err
	}
	if err := checkKeywords(raw, propertyKeywords); err != nil {
		return f, nil, err
	}
	var p struct {
		Type     string          `json:"type"`
		Format   string          `json:"format"`
		Nullable bool            `json:"nullable"`
		Default  json.RawMessage `json:"default"`
		Minimum  *json.Number    `json:"minimum"`
		Maximum  *json.Number    `json:"maximum"`
		Items    json.RawMessage `json:"items"`
		Order    *float64        `json:"x-order"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return f, nil, err
	}
	f.nullable = p.Nullable
	switch p.Type {
	case "string":
		f.kind = kindString
	case "integer":
		f.kind = kindInt
	case "array":
		f.kind = kindStringList
		if err := doc.checkStringItems(p.Items); err != nil {
			return f, nil, err
		}
	default:
		return f, nil, fmt.Errorf("type %q is not supported in request bodies", p.Type)
	}
	if p.Format != "" && !(f.kind == kindInt && (p.Format == "int32" || p.Format == "int64")) {
		return f, nil, fmt.Errorf("format %q is not supported in request bodies", p.Format)
	}
	if (p.Minimum != nil || p.Maximum != nil) && f.kind != kindInt {
		return f, nil, fmt.Errorf("minimum and maximum apply to integers only")
	}
	if f.min, err = specInt(p.Minimum); err != nil {
		return f, nil, fmt.Errorf("minimum: %w", err)
	}
	if f.max, err = specInt(p.Maximum); err != nil {
		return f, nil, fmt.Errorf("maximum: %w", err)
	}
	if p.Default != nil {
		if f.def, err = specDefault(f.kind, p.Default); err != nil {
			return f, nil, fmt.Errorf("default: %w", err)
		}
	}
	return f, p.Order, nil
}

func (doc *specDoc) checkStringItems(rawItems json.RawMessage) error {
	if rawItems == nil {
		return fmt.Errorf("an array needs items")
	}
	raw, err := doc.deref(rawItems)
	if err != nil {
		return err
	}
	if err := checkKeywords(raw, itemKeywords); err != nil {
		return err
	}
	var items struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return err
	}
	if items.Type != "string" {
		return fmt.Errorf("only arrays of strings are supported in request bodies")
	}
	return nil
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

// specDefault returns the canonical value of a default: a string or an
// int64, rendered as the client could have sent it.
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
	default:
		return nil, fmt.Errorf("defaults are supported on strings and integers only")
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
