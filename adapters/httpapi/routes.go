package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/bayhq/bay/core"
)

// route is what the adapter knows about one route pattern beyond the
// generated code: whether it is public, which capability it needs, how to
// check its JSON body and which body limit applies.
type route struct {
	public bool
	// scope is what a caller's key must hold (every non-public route has
	// one; New checks).
	scope      string
	capability string
	body       *bodySpec
	upload     bool
	// query normalizes or checks query parameters the generated binder
	// would treat differently from the contract.
	query func(r *http.Request) []fieldError
}

// routeTable lists every pattern the server registers. New panics if the
// generated code registers a pattern missing here, so the table cannot drift
// from openapi/bay.yaml.
func routeTable() map[string]route {
	return map[string]route{
		"GET /health":                                           {public: true},
		"GET /ready":                                            {public: true},
		"GET /v1/profiles":                                      {public: true},
		"GET /openapi.json":                                     {public: true},
		"GET /docs":                                             {public: true},
		"POST /v1/admin/gc/run":                                 {scope: ScopeAdmin, body: gcRunBody},
		"GET /v1/admin/gc/status":                               {scope: ScopeAdmin},
		"GET /v1/lockers":                                       {scope: ScopeLockers, query: normalizeManaged},
		"POST /v1/lockers":                                      {scope: ScopeLockers, body: createLockerBody},
		"DELETE /v1/lockers/{locker_id}":                        {scope: ScopeLockers},
		"GET /v1/lockers/{locker_id}":                           {scope: ScopeLockers},
		"POST /v1/lockers/{locker_id}/files/read":               {scope: ScopeLockers, body: lockerReadBody},
		"POST /v1/lockers/{locker_id}/files/write":              {scope: ScopeLockers, body: writeFileBody},
		"GET /v1/sandboxes":                                     {scope: ScopeSandboxes},
		"POST /v1/sandboxes":                                    {scope: ScopeSandboxes, body: createSandboxBody},
		"DELETE /v1/sandboxes/{sandbox_id}":                     {scope: ScopeSandboxes},
		"GET /v1/sandboxes/{sandbox_id}":                        {scope: ScopeSandboxes},
		"POST /v1/sandboxes/{sandbox_id}/extend_ttl":            {scope: ScopeSandboxes, body: extendTTLBody},
		"POST /v1/sandboxes/{sandbox_id}/keepalive":             {scope: ScopeSandboxes},
		"POST /v1/sandboxes/{sandbox_id}/stop":                  {scope: ScopeSandboxes},
		"POST /v1/sandboxes/{sandbox_id}/python/exec":           {scope: ScopeSandboxes, capability: core.CapabilityPython, body: pythonBody},
		"POST /v1/sandboxes/{sandbox_id}/shell/exec":            {scope: ScopeSandboxes, capability: core.CapabilityShell, body: shellBody},
		"GET /v1/sandboxes/{sandbox_id}/filesystem/files":       {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},
		"PUT /v1/sandboxes/{sandbox_id}/filesystem/files":       {scope: ScopeSandboxes, capability: core.CapabilityFilesystem, body: writeFileBody},
		"DELETE /v1/sandboxes/{sandbox_id}/filesystem/files":    {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},
		"GET /v1/sandboxes/{sandbox_id}/filesystem/directories": {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},
		"POST /v1/sandboxes/{sandbox_id}/filesystem/upload":     {scope: ScopeSandboxes, capability: core.CapabilityFilesystem, upload: true},
		"GET /v1/sandboxes/{sandbox_id}/filesystem/download":    {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},
	}
}

// routeMux is the BaseRouter handed to the generated code: it registers each
// generated handler on the ServeMux behind the per-route middleware, which
// therefore runs after routing (path values are known) but before the
// generated parameter binding, so authentication comes first.
type routeMux struct{ s *Server }

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	rt, ok := m.s.routes[pattern]
	if !ok {
		panic(fmt.Sprintf("httpapi: route %q is missing from the route table", pattern))
	}
	m.s.mux.HandleFunc(pattern, m.s.perRoute(pattern, rt, h))
}

func (m *routeMux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.s.mux.ServeHTTP(w, r) }

// perRoute authenticates, applies the body limit and checks the JSON body,
// replacing it with its canonical form for the generated decoder.
func (s *Server) perRoute(pattern string, rt route, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		info.route = pattern
		info.capability = rt.capability
		if id := r.PathValue("sandbox_id"); id != "" {
			info.sandboxID = id
		}
		if !rt.public {
			owner, scopes, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			info.owner = owner
			if !slices.Contains(scopes, rt.scope) {
				s.writeError(w, r, core.Errorf(core.CodeForbidden, "This API key lacks the %s scope", rt.scope).
					WithDetails(map[string]any{"scope": rt.scope}))
				return
			}
		}
		limit := s.maxBody
		if rt.upload {
			limit = s.maxUpload
		}
		if r.ContentLength > limit {
			s.writeError(w, r, tooLarge(limit))
			return
		}
		if r.Body == nil {
			r.Body = http.NoBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if rt.query != nil {
			if items := rt.query(r); len(items) > 0 {
				s.writeShape(w, r, items)
				return
			}
		}
		if rt.body != nil {
			canonical, err := readBody(r.Body, rt.body)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			info.body = canonical
			r.Body = io.NopCloser(bytes.NewReader(canonical))
			r.ContentLength = int64(len(canonical))
			r.Header.Set("Content-Type", "application/json")
		}
		next(w, r)
	}
}

func tooLarge(limit int64) error {
	return core.Errorf(core.CodePayloadTooLarge, "Request body is larger than %d bytes", limit).
		WithDetails(map[string]any{"limit_bytes": limit})
}

// normalizeManaged accepts the boolean spellings of the contract
// (true/false/1/0/yes/no/on/off, any case) for ?managed=, which the generated
// binder (strconv.ParseBool) would not.
func normalizeManaged(r *http.Request) []fieldError {
	q := r.URL.Query()
	vals, ok := q["managed"]
	if !ok {
		return nil
	}
	v := ""
	if len(vals) > 0 {
		v = vals[len(vals)-1]
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		q.Set("managed", "true")
	case "false", "0", "no", "off":
		q.Set("managed", "false")
	default:
		return []fieldError{{Loc: []any{"query", "managed"}, Msg: "Input should be a valid boolean, unable to interpret input", Type: "bool_parsing"}}
	}
	r.URL.RawQuery = q.Encode()
	return nil
}
