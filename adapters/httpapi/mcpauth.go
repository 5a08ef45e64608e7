package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/bayhq/bay/core"
)

// Authenticate resolves the caller of r with the rules of the REST API
// (bay-api.md §2): a configured key's owner and scopes, or, in anonymous
// mode, the X-Owner header's owner (or "default") with every scope. The
// error is a core error (unauthorized, or validation_error for an
// oversized X-Owner). Handlers served beside the API, such as the MCP
// endpoint (agent-reach.md §4.1), call it to derive the owner of each
// request from its headers.
func (s *Server) Authenticate(r *http.Request) (owner string, scopes []string, err error) {
	return s.authenticate(r)
}

// Guard serves next beside the REST API, behind the API's own outer
// middlewares and authentication: the X-Request-Id echo (also set on the
// request, so that next can quote it in its errors), the access log and
// metrics under route, panic recovery, then the checks the API runs before
// a handler: a method not in methods is 405 method_not_allowed (with
// Allow), a caller the API would refuse gets the same 401 (or 400) error
// envelope, and a body whose Content-Length exceeds server.max_body_bytes
// is 413. Next enforces the body limit while reading and checks scopes
// itself.
func (s *Server) Guard(route string, methods []string, next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		info.request = r
		r.Header.Set("X-Request-Id", info.id)
		if !slices.Contains(methods, r.Method) {
			// As on the API, a method no route serves names no route.
			w.Header().Set("Allow", strings.Join(methods, ", "))
			s.writeEnvelope(w, r, http.StatusMethodNotAllowed,
				core.Errorf(core.CodeMethodNotAllowed, "Method Not Allowed"), "Method Not Allowed")
			return
		}
		info.route = route
		owner, _, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		info.owner = owner
		if r.ContentLength > s.maxBody {
			s.writeError(w, r, tooLarge(s.maxBody))
			return
		}
		next.ServeHTTP(w, r)
	})
	return s.withRequestID(s.withAccessLog(s.withRecover(inner)))
}
