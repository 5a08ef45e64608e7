package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bayhq/bay/core"
)

// route is what the adapter knows about one route pattern beyond the
// generated code: whether it is public, which capability it needs, how to
// check its JSON body and which body limit applies.
type route struct {
	public bool
	// scope is what a caller's key must hold (every non-public route has
	// one; New checks).
	scope string
	// capability is what the sandbox's profile must list. Unless
	// shapeFirst, a request refused for its shape (422) first gets the
	// sandbox lookup and the profile check (404, 400), which come before
	// it on capability endpoints (bay-api.md §3.4).
	capability string
	// shapeFirst: the route is idempotent (Idempotency-Key), so the request
	// shape comes before everything but authentication (bay-api.md §3.4).
	shapeFirst bool
	// ticket: the route also authenticates by ?ticket= (a terminal ticket)
	// when no Authorization header is sent.
	ticket bool
	// body and upload come from the spec's request bodies (spec.go): the
	// rules of a JSON body, or a multipart upload with the upload limit.
	body   *bodySpec
	upload bool
	// query normalizes or checks query parameters the generated binder
	// would treat differently from the contract.
	query func(r *http.Request) []fieldError
}

// routeTable lists every pattern the server registers, with what the spec
// does not say: public or which scope, which capability. New panics if the
// generated code registers a pattern missing here, so the table cannot drift
// from openapi/bay.yaml; request bodies are filled in from the spec.
func routeTable() map[string]route {
	return map[string]route{
		"GET /health":                                           {public: true},
		"GET /ready":                                            {public: true},
		"GET /v1/profiles":                                      {public: true},
		"GET /openapi.json":                                     {public: true},
		"GET /docs":                                             {public: true},
		"GET /docs/{file...}":                                   {public: true}, // the explorer's assets (docs.go)
		"POST /v1/admin/gc/run":                                 {scope: ScopeAdmin},
		"GET /v1/admin/gc/status":                               {scope: ScopeAdmin},
		"GET /v1/lockers":                                       {scope: ScopeLockers, query: normalizeManaged},
		"POST /v1/lockers":                                      {scope: ScopeLockers, shapeFirst: true},
		"DELETE /v1/lockers/{locker_id}":                        {scope: ScopeLockers},
		"GET /v1/lockers/{locker_id}":                           {scope: ScopeLockers},
		"POST /v1/lockers/{locker_id}/files/read":               {scope: ScopeLockers},
		"POST /v1/lockers/{locker_id}/files/write":              {scope: ScopeLockers},
		"GET /v1/sandboxes":                                     {scope: ScopeSandboxes},
		"POST /v1/sandboxes":                                    {scope: ScopeSandboxes, shapeFirst: true},
		"DELETE /v1/sandboxes/{sandbox_id}":                     {scope: ScopeSandboxes},
		"GET /v1/sandboxes/{sandbox_id}":                        {scope: ScopeSandboxes},
		"POST /v1/sandboxes/{sandbox_id}/extend_ttl":            {scope: ScopeSandboxes, shapeFirst: true},
		"POST /v1/sandboxes/{sandbox_id}/keepalive":             {scope: ScopeSandboxes},
		"POST /v1/sandboxes/{sandbox_id}/stop":                  {scope: ScopeSandboxes},
		"POST /v1/sandboxes/{sandbox_id}/python/exec":           {scope: ScopeSandboxes, capability: core.CapabilityPython},
		"POST /v1/sandboxes/{sandbox_id}/browser/exec":          {scope: ScopeSandboxes, capability: core.CapabilityBrowser},
		"POST /v1/sandboxes/{sandbox_id}/browser/exec_batch":    {scope: ScopeSandboxes, capability: core.CapabilityBrowser},
		"POST /v1/sandboxes/{sandbox_id}/shell/exec":            {scope: ScopeSandboxes, capability: core.CapabilityShell},
		"GET /v1/sandboxes/{sandbox_id}/filesystem/files":       {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},
		"PUT /v1/sandboxes/{sandbox_id}/filesystem/files":       {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},
		"DELETE /v1/sandboxes/{sandbox_id}/filesystem/files":    {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},
		"GET /v1/sandboxes/{sandbox_id}/filesystem/directories": {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},
		"POST /v1/sandboxes/{sandbox_id}/filesystem/upload":     {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},
		"GET /v1/sandboxes/{sandbox_id}/filesystem/download":    {scope: ScopeSandboxes, capability: core.CapabilityFilesystem},

		// Streamed and async executions (agent-reach.md §2). Async ones are
		// idempotent: their shape comes first.
		"POST /v1/sandboxes/{sandbox_id}/python/exec/stream": {scope: ScopeSandboxes, capability: core.CapabilityPython},
		"POST /v1/sandboxes/{sandbox_id}/shell/exec/stream":  {scope: ScopeSandboxes, capability: core.CapabilityShell},
		"POST /v1/sandboxes/{sandbox_id}/python/exec/async":  {scope: ScopeSandboxes, capability: core.CapabilityPython, shapeFirst: true},
		"POST /v1/sandboxes/{sandbox_id}/shell/exec/async":   {scope: ScopeSandboxes, capability: core.CapabilityShell, shapeFirst: true},

		// Execution records (agent-reach.md §1.4): readable without a
		// capability (the shape comes before the lookup, no profile check),
		// and the compatibility /history aliases.
		"GET /v1/sandboxes/{sandbox_id}/executions":                        {scope: ScopeSandboxes, query: queryHooks(normalizeBools("success", "has_description"), checkDateTimes("since", "until"))},
		"GET /v1/sandboxes/{sandbox_id}/executions/last":                   {scope: ScopeSandboxes},
		"GET /v1/sandboxes/{sandbox_id}/executions/{execution_id}":         {scope: ScopeSandboxes},
		"PATCH /v1/sandboxes/{sandbox_id}/executions/{execution_id}":       {scope: ScopeSandboxes},
		"POST /v1/sandboxes/{sandbox_id}/executions/{execution_id}/cancel": {scope: ScopeSandboxes},
		"GET /v1/sandboxes/{sandbox_id}/history":                           {scope: ScopeSandboxes, query: normalizeBools("success_only", "has_notes", "has_description")},
		"GET /v1/sandboxes/{sandbox_id}/history/last":                      {scope: ScopeSandboxes},
		"GET /v1/sandboxes/{sandbox_id}/history/{execution_id}":            {scope: ScopeSandboxes},
		"PATCH /v1/sandboxes/{sandbox_id}/history/{execution_id}":          {scope: ScopeSandboxes},

		// Their own checks (agent-reach.md §3, §6.2): the terminal needs
		// shell but answers capability_not_supported for "terminal" itself
		// (refused runs CheckTerminal for it).
		"GET /v1/sandboxes/{sandbox_id}/capabilities":      {scope: ScopeSandboxes, query: normalizeBools("refresh")},
		"GET /v1/sandboxes/{sandbox_id}/terminal":          {scope: ScopeSandboxes, capability: core.CapabilityTerminal, ticket: true},
		"POST /v1/sandboxes/{sandbox_id}/terminal/tickets": {scope: ScopeSandboxes},
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
		info.request = r
		if !rt.shapeFirst {
			// refused runs the capability pre-checks of a refused request.
			info.capability = rt.capability
		}
		if id := r.PathValue("sandbox_id"); id != "" {
			info.sandboxID = id
		}
		if !rt.public {
			authenticate := s.authenticate
			if rt.ticket && r.Header.Get("Authorization") == "" && r.URL.Query().Has("ticket") {
				authenticate = s.authenticateTicket
			}
			owner, scopes, err := authenticate(r)
			if rt.ticket {
				redactTicket(r)
			}
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
				s.refuse(w, r, shape(items...))
				return
			}
		}
		if rt.body != nil {
			canonical, err := readBody(r.Body, rt.body)
			if isShape(err) {
				s.refuse(w, r, err)
				return
			}
			if err != nil {
				s.writeError(w, r, err) // 413
				return
			}
			info.body = canonical
			r.Body = io.NopCloser(bytes.NewReader(canonical))
			r.ContentLength = int64(len(canonical))
			// A merge patch too: the generated decoder then always fills
			// the request object's JSONBody.
			r.Header.Set("Content-Type", contentJSON)
		}
		next(w, r)
	}
}

// refuse answers a request turned away before it reaches the service: a
// request-shape failure (422) or an empty path (400 invalid_path).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, s.refused(r.Context(), r.PathValue("sandbox_id"), err))
}

// refused returns err, unless the request is a capability call whose first
// checks fail: the sandbox lookup (404) and the profile capability (400)
// come before the request shape and the paths (bay-api.md §7.4.1). A call
// that reaches the service runs them there, on the row its claim reads; this
// is only for a call that does not get that far, so it is the one place an
// error answer reads the sandbox, once.
func (s *Server) refused(ctx context.Context, sandboxID string, err error) error {
	info := infoFrom(ctx)
	if info.capability == "" {
		return err
	}
	check := s.sandboxes.CheckCapability
	if info.capability == core.CapabilityTerminal && s.terminals != nil {
		// A terminal needs shell, and its refusal names the terminal.
		check = func(ctx context.Context, owner, id, _ string) error { return s.terminals.CheckTerminal(ctx, owner, id) }
	}
	if cerr := check(ctx, info.owner, sandboxID, info.capability); cerr != nil {
		return cerr
	}
	return err
}

func isShape(err error) bool {
	var se *shapeError
	return errors.As(err, &se)
}

func tooLarge(limit int64) error {
	return core.Errorf(core.CodePayloadTooLarge, "Request body is larger than %d bytes", limit).
		WithDetails(map[string]any{"limit_bytes": limit})
}

// normalizeManaged accepts the boolean spellings of the contract
// (true/false/1/0/yes/no/on/off, any case) for ?managed=, which the generated
// binder (strconv.ParseBool) would not.
var normalizeManaged = normalizeBools("managed")

// normalizeBools returns a query hook that accepts the boolean spellings of
// the contract (true/false/1/0/yes/no/on/off, any case) for the named
// parameters, rewriting them to true/false for the generated binder
// (strconv.ParseBool), and refuses any other value (422).
func normalizeBools(names ...string) func(r *http.Request) []fieldError {
	return func(r *http.Request) []fieldError {
		q := r.URL.Query()
		var items []fieldError
		changed := false
		for _, name := range names {
			vals, ok := q[name]
			if !ok {
				continue
			}
			v := ""
			if len(vals) > 0 {
				v = vals[len(vals)-1]
			}
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true", "1", "yes", "on":
				q.Set(name, "true")
			case "false", "0", "no", "off":
				q.Set(name, "false")
			default:
				items = append(items, fieldError{Loc: []any{"query", name}, Msg: "Input should be a valid boolean, unable to interpret input", Type: "bool_parsing"})
				continue
			}
			changed = true
		}
		if len(items) > 0 {
			return items
		}
		if changed {
			r.URL.RawQuery = q.Encode()
		}
		return nil
	}
}

// checkDateTimes refuses (422 datetime_parsing) values of the named query
// parameters that are not RFC 3339 date-times, which the generated binder
// would report as an unparsable integer.
func checkDateTimes(names ...string) func(r *http.Request) []fieldError {
	return func(r *http.Request) []fieldError {
		q := r.URL.Query()
		var items []fieldError
		for _, name := range names {
			vals, ok := q[name]
			if !ok || len(vals) != 1 {
				continue // absent, or the binder's too_many_values
			}
			if _, err := time.Parse(time.RFC3339Nano, vals[0]); err != nil {
				items = append(items, fieldError{Loc: []any{"query", name},
					Msg: "Input should be a valid datetime (RFC 3339, e.g. 2026-01-30T07:00:00Z)", Type: "datetime_parsing"})
			}
		}
		return items
	}
}

// queryHooks runs several query hooks, normalizations first, and returns
// every item they refuse.
func queryHooks(hooks ...func(r *http.Request) []fieldError) func(r *http.Request) []fieldError {
	return func(r *http.Request) []fieldError {
		var items []fieldError
		for _, h := range hooks {
			items = append(items, h(r)...)
		}
		return items
	}
}
