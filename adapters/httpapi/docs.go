package httpapi

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

//go:embed docs.html.tmpl
var docsFS embed.FS

var docsTemplate = template.Must(template.ParseFS(docsFS, "docs.html.tmpl"))

// docs holds /openapi.json and /docs, rendered from the embedded spec on
// their first request: decoding and rendering the spec costs milliseconds
// and memory that start-up should not pay.
type docs struct {
	once sync.Once
	json []byte
	html []byte
	err  error
}

func (d *docs) load() *docs {
	d.once.Do(func() {
		r := renderDocs()
		d.json, d.html, d.err = r.json, r.html, r.err
	})
	return d
}

func renderDocs() *docs {
	spec, err := oapigen.GetSwagger()
	if err != nil {
		return &docs{err: fmt.Errorf("load embedded spec: %w", err)}
	}
	d := &docs{}
	if d.json, err = json.Marshal(spec); err != nil {
		return &docs{err: fmt.Errorf("encode spec: %w", err)}
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, docsView(spec)); err != nil {
		return &docs{err: fmt.Errorf("render docs: %w", err)}
	}
	d.html = buf.Bytes()
	return d
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if s.docs.load().err != nil {
		s.writeError(w, r, s.docs.err)
		return
	}
	writeJSON(w, http.StatusOK, s.docs.json)
}

func (s *Server) serveDocs(w http.ResponseWriter, r *http.Request) {
	if s.docs.load().err != nil {
		s.writeError(w, r, s.docs.err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.docs.html)
}

type viewDoc struct {
	Title, Version, Description string
	Ops                         []viewOp
	Schemas                     []viewSchema
}

type viewOp struct {
	Method, Path, ID, Summary, Description, Body string
	Public                                       bool
	Params                                       []viewField
	Responses                                    []viewResponse
}

type viewField struct {
	Name, In, Type, Description string
	Required, Nullable          bool
}

type viewResponse struct{ Code, Description, Schema string }

type viewSchema struct {
	Name, Type, Description string
	Props                   []viewField
}

var methodOrder = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

func docsView(spec *openapi3.T) viewDoc {
	v := viewDoc{Title: spec.Info.Title, Version: spec.Info.Version, Description: spec.Info.Description}
	paths := spec.Paths.Map()
	for _, p := range sortedKeys(paths) {
		item := paths[p]
		ops := item.Operations()
		for _, m := range methodOrder {
			op, ok := ops[m]
			if !ok {
				continue
			}
			vo := viewOp{Method: m, Path: p, ID: op.OperationID, Summary: op.Summary, Description: op.Description}
			vo.Public = op.Security != nil && len(*op.Security) == 0
			for _, pr := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if pr.Value == nil {
					continue
				}
				vo.Params = append(vo.Params, viewField{
					Name: pr.Value.Name, In: pr.Value.In, Type: typeName(pr.Value.Schema),
					Description: pr.Value.Description, Required: pr.Value.Required,
				})
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, ct := range sortedKeys(op.RequestBody.Value.Content) {
					vo.Body = ct + ": " + typeName(op.RequestBody.Value.Content[ct].Schema)
				}
			}
			resps := op.Responses.Map()
			for _, code := range sortedKeys(resps) {
				rr := resps[code]
				vr := viewResponse{Code: code}
				if rr.Value != nil {
					if rr.Value.Description != nil {
						vr.Description = *rr.Value.Description
					}
					for _, ct := range sortedKeys(rr.Value.Content) {
						vr.Schema = typeName(rr.Value.Content[ct].Schema)
					}
				}
				vo.Responses = append(vo.Responses, vr)
			}
			v.Ops = append(v.Ops, vo)
		}
	}
	if spec.Components != nil {
		for _, name := range sortedKeys(spec.Components.Schemas) {
			sr := spec.Components.Schemas[name]
			if sr.Value == nil {
				continue
			}
			vs := viewSchema{Name: name, Type: typeName(&openapi3.SchemaRef{Value: sr.Value}), Description: sr.Value.Description}
			for _, pn := range sortedKeys(sr.Value.Properties) {
				prop := sr.Value.Properties[pn]
				vf := viewField{Name: pn, Type: typeName(prop), Required: slices.Contains(sr.Value.Required, pn)}
				if prop.Value != nil {
					vf.Description = prop.Value.Description
					vf.Nullable = prop.Value.Nullable
				}
				vs.Props = append(vs.Props, vf)
			}
			v.Schemas = append(v.Schemas, vs)
		}
	}
	return v
}

// typeName is a short human description of a schema.
func typeName(sr *openapi3.SchemaRef) string {
	if sr == nil {
		return ""
	}
	if sr.Ref != "" {
		return sr.Ref[strings.LastIndex(sr.Ref, "/")+1:]
	}
	s := sr.Value
	if s == nil || s.Type == nil || len(s.Type.Slice()) == 0 {
		return "any"
	}
	t := strings.Join(s.Type.Slice(), "|")
	switch {
	case s.Type.Is("array"):
		t = "array of " + typeName(s.Items)
	case s.Format != "":
		t += " (" + s.Format + ")"
	}
	if len(s.Enum) > 0 {
		vals := make([]string, 0, len(s.Enum))
		for _, e := range s.Enum {
			vals = append(vals, fmt.Sprint(e))
		}
		t += " enum: " + strings.Join(vals, ", ")
	}
	if s.Min != nil || s.Max != nil {
		t += fmt.Sprintf(" [%s..%s]", bound(s.Min), bound(s.Max))
	}
	if s.Default != nil {
		t += fmt.Sprintf(" default %v", s.Default)
	}
	return t
}

func bound(f *float64) string {
	if f == nil {
		return ""
	}
	return fmt.Sprint(*f)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
