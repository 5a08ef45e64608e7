package browser

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/bayhq/bay/browser/wire"
)

// maxBody bounds a request body: a batch of 50 commands with texts of up
// to 1 MiB fits.
const maxBody = 64 << 20

// Server is browserd's HTTP API (browser.md §5.1).
type Server struct {
	cfg Config
	eng *Engine
	mux *http.ServeMux
}

// NewServer returns the API of eng. cfg.Token must not be empty: the
// runtime fails closed rather than serve without authentication.
func NewServer(cfg Config, eng *Engine) (*Server, error) {
	if cfg.Token == "" {
		return nil, errors.New("runtime token is empty; refusing to serve without authentication")
	}
	if cfg.Version == "" {
		cfg.Version = "unknown"
	}
	s := &Server{cfg: cfg, eng: eng, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET "+wire.PathHealth, s.health)
	s.mux.HandleFunc("GET "+wire.PathMeta, s.meta)
	s.mux.HandleFunc("POST "+wire.PathExec, s.exec)
	s.mux.HandleFunc("POST "+wire.PathExecBatch, s.execBatch)
	routes := []string{wire.PathHealth, wire.PathMeta, wire.PathExec, wire.PathExecBatch}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(routes, r.URL.Path) {
			writeJSON(w, http.StatusMethodNotAllowed, wire.Error{Detail: "Method Not Allowed"})
			return
		}
		writeJSON(w, http.StatusNotFound, wire.Error{Detail: "Not Found"})
	})
	return s, nil
}

// ServeHTTP checks the runtime token before routing, so that a client
// without it learns nothing about the routes; only GET /health is open.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !wire.Open(r) && !wire.Authorized(r, s.cfg.Token) {
		w.Header().Set("WWW-Authenticate", wire.Challenge)
		writeJSON(w, http.StatusUnauthorized, wire.Error{Detail: wire.UnauthorizedDetail})
		return
	}
	s.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"detail":"encode response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// health answers 200 only once Chromium runs with a blank tab; 503
// otherwise, with "failed" and the reason when it cannot start.
func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	st := s.eng.Status()
	switch st.State {
	case wire.StatusHealthy:
		sandbox := st.ChromiumSandbox
		writeJSON(w, http.StatusOK, wire.Health{Status: wire.StatusHealthy, ChromiumSandbox: &sandbox})
	case wire.StatusFailed:
		writeJSON(w, http.StatusServiceUnavailable, wire.Health{Status: wire.StatusFailed, Error: st.Failure})
	default:
		writeJSON(w, http.StatusServiceUnavailable, wire.Health{Status: st.State})
	}
}

// Meta is /meta's document for the engine's current status.
func (s *Server) Meta() wire.Meta {
	st := s.eng.Status()
	nullable := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	return wire.Meta{
		Runtime: wire.MetaRuntime{
			Name: "browser", Version: s.cfg.Version, APIVersion: "v1", Auth: wire.AuthBearer,
			Build: wire.MetaBuild{Image: s.cfg.Image, ImageDigest: nullable(s.cfg.ImageDigest), GitSHA: nullable(s.cfg.GitSHA)},
		},
		Workspace: wire.MetaWorkspace{MountPath: wire.MountPath},
		Capabilities: map[string]wire.Capability{
			wire.CapabilityBrowser: {
				Operations:      []string{wire.OpExec, wire.OpExecBatch},
				Endpoints:       map[string]string{wire.OpExec: wire.PathExec, wire.OpExecBatch: wire.PathExecBatch},
				Engine:          wire.Engine,
				EngineVersion:   st.EngineVersion,
				ChromiumSandbox: st.ChromiumSandbox,
				Profile:         st.Profile,
				Actions:         wire.Actions,
			},
		},
	}
}

func (s *Server) meta(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Meta())
}

// decode reads a JSON body into dst, rejecting unknown fields; on failure
// it answers 422 and returns false.
func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeValidation(w, []any{"body"}, err.Error(), "body_error")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			writeValidation(w, []any{"body", te.Field}, "Input should be a valid "+jsonTypeName(te.Type.String()), "type_error")
			return false
		}
		writeValidation(w, []any{"body"}, "JSON decode error: "+err.Error(), "json_invalid")
		return false
	}
	return true
}

func jsonTypeName(goType string) string {
	switch goType {
	case "int", "*int":
		return "integer"
	case "bool", "*bool":
		return "boolean"
	case "string", "*string":
		return "string"
	}
	return "value"
}

func writeValidation(w http.ResponseWriter, loc []any, msg, typ string) {
	writeJSON(w, http.StatusUnprocessableEntity, wire.Error{Detail: []wire.ValidationItem{{Loc: loc, Msg: msg, Type: typ}}})
}

// writeInvalid answers a request that fails validation: 400 invalid_path
// or 422.
func writeInvalid(w http.ResponseWriter, e *wire.Invalid) {
	if e.IsPath() {
		writeJSON(w, http.StatusBadRequest, wire.Error{Detail: wire.PathDetail{
			Code: wire.CodeInvalidPath, Field: e.Field(), Reason: e.Reason, Message: e.Msg,
		}})
		return
	}
	writeValidation(w, append([]any{"body"}, e.Loc...), e.Msg, "value_error")
}

// stopping answers 503 while the runtime shuts down.
func (s *Server) stopping(w http.ResponseWriter) bool {
	if s.eng.Status().State != wire.StatusStopping {
		return false
	}
	writeJSON(w, http.StatusServiceUnavailable, wire.Error{Detail: ErrStopping.Error()})
	return true
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	var req wire.ExecRequest
	if !decode(w, r, &req) {
		return
	}
	x, invalid := req.Parse()
	if invalid != nil {
		writeInvalid(w, invalid)
		return
	}
	if s.stopping(w) {
		return
	}
	writeJSON(w, http.StatusOK, s.eng.Exec(r.Context(), x))
}

func (s *Server) execBatch(w http.ResponseWriter, r *http.Request) {
	var req wire.BatchRequest
	if !decode(w, r, &req) {
		return
	}
	b, invalid := req.Parse()
	if invalid != nil {
		writeInvalid(w, invalid)
		return
	}
	if s.stopping(w) {
		return
	}
	writeJSON(w, http.StatusOK, s.eng.ExecBatch(r.Context(), b))
}
